"""AsyncAPI for hare: the server in force, hare's queues and an ``x-hare`` extension."""

from faststream_hare.asyncapi.factory import HareAsyncAPI

__all__ = ("HareAsyncAPI",)
