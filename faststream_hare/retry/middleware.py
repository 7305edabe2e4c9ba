"""The retry middleware: hare's part of consuming, on hare subscribers only.

``RetryMiddleware`` is the factory a hare subscriber adds to its own middlewares (plain
subscribers never see it). Per message, a classic/quorum delivery goes to ``Attempt`` (through
``IdempotentDelivery`` with ``idempotent=``) and a stream delivery to ``StreamFailures``. A
message FastStream could not hand to any handler —
its parser or decoder raised, or every ``filter=`` said no — never reaches ``consume_scope``:
``__aexit__`` sees the error and sends it to ``Q.dead`` as poison instead of
letting FastStream reject it into nowhere. A user's middleware that raises in its own
``consume_scope`` before calling on is no such failure: the guard (``guard.py``) retries it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from faststream import BaseMiddleware
from faststream.exceptions import HandlerException, SubscriberNotFound

from faststream_hare.errors import NoHandler
from faststream_hare.retry.attempt import Attempt
from faststream_hare.retry.endpoint import as_hare_endpoint
from faststream_hare.retry.guard import current_delivery
from faststream_hare.retry.idempotent import IdempotentDelivery
from faststream_hare.retry.settle import hand_on
from faststream_hare.retry.stream_failures import StreamFailures

if TYPE_CHECKING:
    from types import TracebackType

    from aio_pika.abc import AbstractIncomingMessage
    from faststream.message import StreamMessage
    from faststream.rabbit.message import RabbitMessage

    from faststream_hare._internal.faststream import ContextRepo
    from faststream_hare.contract.headers import DeadReason
    from faststream_hare.retry.endpoint import HareEndpoint

_hare_logger = logging.getLogger("faststream_hare.retry")
#: For brokers built with ``logger=None``: FastStream logs nothing, so neither do retries.
_silent_logger = logging.getLogger("faststream_hare.retry.silenced")
_silent_logger.disabled = True


class RetryMiddleware:
    """Factory: one ``_RetryScope`` per consumed message."""

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> BaseMiddleware:
        return _RetryScope(msg, context=context)


class _RetryScope(BaseMiddleware):
    _reached_handler = False

    def _log(self) -> logging.Logger:
        """FastStream's logger (so ``logger=`` and ``log_level`` apply; ``logger=None``
        silences these lines too), else hare's."""
        found = self.context.get_local("logger")
        if found is None:
            return _silent_logger
        return found if isinstance(found, logging.Logger) else _hare_logger

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        self._reached_handler = True
        subscriber = as_hare_endpoint(self.context.get_local("handler_"))
        if subscriber is None:
            return await call_next(msg)
        if subscriber.hare.stream:
            return await StreamFailures(subscriber).run(call_next, msg)
        message = cast("RabbitMessage", msg)
        attempt = Attempt(subscriber, message, self._log())
        idempotent = subscriber.hare.idempotent
        if idempotent is not None:
            delivery = IdempotentDelivery(subscriber, idempotent, message, self._log())
            state = current_delivery(self.context)
            if state is not None:  # the guard marks it done once the reply is out too
                state.idempotent = delivery
                delivery.defer_done = True
            return await delivery.run(attempt, call_next)
        return await attempt.run(call_next)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        if (
            self._reached_handler
            or not isinstance(exc_val, Exception)
            or isinstance(exc_val, HandlerException | asyncio.CancelledError)
        ):
            return await super().__aexit__(exc_type, exc_val, exc_tb)
        subscriber = as_hare_endpoint(self.context.get_local("handler_"))
        if subscriber is None or subscriber.hare.stream:
            return await super().__aexit__(exc_type, exc_val, exc_tb)
        state = current_delivery(self.context)
        if state is not None and state.accepted:  # a user's consume_scope raised: not poison,
            return await super().__aexit__(exc_type, exc_val, exc_tb)  # the guard retries it
        await self._dead_letter_unhandled(subscriber, exc_val)
        return True  # settled here (dead-lettered, or back in Q)

    async def _dead_letter_unhandled(self, subscriber: HareEndpoint, exc: Exception) -> None:
        """Parser/decoder failure or no handler: poison, straight to ``Q.dead``."""
        raw = cast("AbstractIncomingMessage", self.msg)
        if isinstance(exc, SubscriberNotFound):
            error: Exception = NoHandler("no handler of this subscriber accepts the message")
            reason: DeadReason = "no_handler"
        else:
            error, reason = exc, "poison"
        await hand_on(subscriber, raw, error, dead_reason=reason, log=self._log())
