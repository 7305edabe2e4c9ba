"""Every error a caller of faststream-hare can catch: one root, ``HareError``.

Configuration errors are also ``ValueError``; all are exported from ``faststream_hare``.
"""

from __future__ import annotations

from collections.abc import Sequence

from faststream.exceptions import StartupValidationError


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


class ClaimsNotReleasedError(HareDedupError):
    """Some messages were not published and their dedup claims could not be released.

    ``results`` holds the ``PublishResult`` of every message (input order): publishing those
    messages again would be a ``DUPLICATE`` until their claims expire.
    """

    def __init__(self, message: str, results: Sequence[str]) -> None:
        super().__init__(message)
        self.results = list(results)


class HareConnectionError(HareError, StartupValidationError):
    """A service hare needs (RabbitMQ, its stream port, Redis) could not be reached in time.

    It is also FastStream's ``StartupValidationError`` (naming no CLI option), the error on
    which ``faststream run`` ends with status 1 without a traceback: the broker has logged this
    one sentence before, so that is all the command prints.
    """

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)  # not StartupValidationError's (option names)
        self.missed_fields: tuple[str, ...] = ()
        self.invalid_fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class HareMissingExtraError(HareError, ImportError):
    """A part of hare was used whose optional dependencies are not installed; the message names
    the extra to install (``pip install 'faststream-hare[EXTRA]'``)."""


class StreamUnreachableError(HareConnectionError):
    """The stream port did not answer (not a refusal of the subscription itself)."""


class EncodingFailedError(HareError):
    """The message is not a mapping, ``bytes`` or ``str``, or is not JSON-serialisable."""
