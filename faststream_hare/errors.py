"""The exception hierarchy: one root, configuration errors are also ``ValueError``."""

from __future__ import annotations


class HareError(Exception):
    """Root of every error faststream-hare raises on purpose."""


class HareConfigError(HareError, ValueError):
    """A hare option or setting has a value that cannot work; the message names the fix."""


class HareTopologyError(HareError):
    """The broker holds an entity declared with other arguments than hare wants (a 406)."""

    def __init__(
        self,
        message: str,
        *,
        entity: str,
        argument: str | None = None,
        found: object = None,
        wanted: object = None,
    ) -> None:
        super().__init__(message)
        self.entity = entity
        self.argument = argument
        self.found = found
        self.wanted = wanted


class HareDedupError(HareError):
    """The deduplication store cannot be reached, so nothing was published."""


class HareConnectionError(HareError):
    """A service hare needs (RabbitMQ, its stream port, Redis) could not be reached in time."""


class HareMissingExtraError(HareError, ImportError):
    """A part of hare was used whose optional dependencies are not installed; the message names
    the extra to install (``pip install 'faststream-hare[EXTRA]'``)."""
