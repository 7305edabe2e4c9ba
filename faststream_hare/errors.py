"""Every error faststream-hare raises on purpose, in one module: one root, ``HareError``.

Configuration errors are also ``ValueError``. The ones a caller can catch are exported from
``faststream_hare``; the rest (confirms, the Redis link, the AMQP 1.0 decoder) stay inside
hare but share the root, so ``except HareError`` never misses one of hare's own. This is the
lowest module of the package (it imports nothing of hare's), which is why ``DeadReport``, the
report a ``ReplayError`` carries, lives here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


class UnroutableReplyError(HareError):
    """RabbitMQ returned the reply: nothing is bound to the message's ``reply_to``."""


class NoHandler(HareError):  # noqa: N818 - the name is the ``hare-exception`` header's value
    """No handler of the subscriber accepts the message (every ``filter=`` said no)."""


@dataclass(frozen=True)
class DeadReport:
    """What a replay or purge did: ``moved`` (or purged), ``skipped`` (not matching), ``failed``."""

    queue: str
    moved: int
    skipped: int
    failed: int
    dry_run: bool
    scanned: int
    error: str | None = None
    #: What was moved or purged (or would be, on a dry run), head first: message ids, or
    #: ``fingerprint:…`` for a message without one.
    ids: tuple[str, ...] = ()


class ReplayError(HareError):
    """A replay stopped early (a missing queue, a lost link, a copy the broker did not
    confirm); ``report`` (and ``moved``) say what it did before. Nothing is lost: what was not
    moved is still in ``Q.dead``."""

    def __init__(self, message: str, report: DeadReport) -> None:
        super().__init__(message)
        self.report = report

    @property
    def moved(self) -> int:
        """How many messages were moved before the replay stopped."""
        return self.report.moved


class QueueNotFoundError(HareError):
    """A queue the operation needs does not exist."""


class OpsConnectionError(HareError):
    """RabbitMQ could not be reached by a ``hare`` operation (the sentence names the masked URL)."""


class ManagementUnavailableError(HareError):
    """The management API did not answer (plugin off, wrong port, credentials refused)."""

    def __init__(self, base: str, reason: str) -> None:
        super().__init__(f"the management API at {base} did not answer ({reason})")


class ConfirmError(HareError):
    """The broker did not confirm a message; it may not have been stored."""


class NotConnectedError(ConfirmError):
    """There is no usable connection or channel right now."""


class ReturnedError(ConfirmError):
    """The broker returned the message: no queue is bound for its routing key."""


class NackedError(ConfirmError):
    """The broker refused the message (``basic.nack``)."""


class ConfirmTimeoutError(ConfirmError):
    """No confirm arrived in time."""


class RedisConnectionLostError(HareError, ConnectionError):
    """The connection failed with a call in flight: its commands may or may not have run."""


class AmqpDecodeError(HareError, ValueError):
    """The bytes are not a well-formed AMQP 1.0 message."""
