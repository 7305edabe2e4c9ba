"""The retry middleware: hare's part of consuming, on hare subscribers only.

``RetryMiddleware`` is the factory a hare subscriber adds to its own middlewares (plain
subscribers never see it); per message it hands a classic/quorum delivery to ``Attempt`` and a
stream delivery to ``StreamFailures``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from faststream import BaseMiddleware

from faststream_hare.retry.attempt import Attempt
from faststream_hare.retry.endpoint import as_hare_endpoint
from faststream_hare.retry.stream_failures import StreamFailures

if TYPE_CHECKING:
    from faststream.message import StreamMessage
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare._internal.faststream import ContextRepo


class RetryMiddleware:
    """Factory: one ``_RetryScope`` per consumed message."""

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> BaseMiddleware:
        return _RetryScope(msg, context=context)


class _RetryScope(BaseMiddleware):
    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        subscriber = as_hare_endpoint(self.context.get_local("handler_"))
        if subscriber is None:
            return await call_next(msg)
        if subscriber.hare.stream:
            return await StreamFailures(subscriber).run(call_next, msg)
        return await Attempt(subscriber, cast("RabbitMessage", msg)).run(call_next)
