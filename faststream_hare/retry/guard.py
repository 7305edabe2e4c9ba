"""The outermost of a hare subscriber's middlewares: errors around the handler.

``RetryMiddleware`` sits inside the user's broker middlewares and sees the handler only. A
user's middleware raising before the handler (``on_receive``, ``consume_scope``), and what
FastStream does after the handler returned — serializing the return value, publishing it to
``@publisher``s and ``reply_to``, the user's middlewares leaving — can still raise, and
FastStream would then reject the message into nowhere. ``DeliveryGuard`` wraps all of it: an
error that escapes with the message still unsettled is handed on like a raising handler's
(retry, ``Q.dead``, or back to ``Q``), a reply that nothing routes is such an error, and an
idempotent delivery is marked done only once everything succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiormq.abc import DeliveredMessage
from faststream import BaseMiddleware, PublishType
from faststream.exceptions import HandlerException
from pamqp import commands

from faststream_hare.errors import UnroutableReplyError
from faststream_hare.retry.decision import classify
from faststream_hare.retry.endpoint import as_hare_endpoint
from faststream_hare.retry.handed_on import HandedOn
from faststream_hare.retry.settle import hand_on

if TYPE_CHECKING:
    from contextvars import Token
    from types import TracebackType

    from aio_pika.abc import AbstractIncomingMessage

    from faststream_hare._internal.faststream import ContextRepo
    from faststream_hare.retry.idempotent import IdempotentDelivery

logger = logging.getLogger("faststream_hare.retry")

#: The context key under which the guard shares a delivery's state with ``RetryMiddleware``.
DELIVERY_KEY = "hare_delivery"


@dataclass
class DeliveryState:
    """What the inner retry scope tells the guard about one delivery."""

    #: An idempotent delivery whose done mark waits for the whole processing to succeed.
    idempotent: IdempotentDelivery | None = None
    #: FastStream parsed the message and a handler accepted it: what fails from here on (a
    #: user's ``consume_scope`` too) is an ordinary failure, not poison.
    accepted: bool = False


def current_delivery(context: ContextRepo) -> DeliveryState | None:
    """The state the guard keeps for the message being processed (``None`` outside one)."""
    state = context.get_local(DELIVERY_KEY)
    return state if isinstance(state, DeliveryState) else None


class DeliveryGuard:
    """Factory: one ``_GuardScope`` per consumed message."""

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> BaseMiddleware:
        return _GuardScope(msg, context=context)


class _GuardScope(BaseMiddleware):
    _token: Token[Any] | None = None

    async def on_receive(self) -> None:
        self._state = DeliveryState()
        self._token = self.context.set_local(DELIVERY_KEY, self._state)

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        state: DeliveryState | None = getattr(self, "_state", None)
        if state is not None:  # outermost: the first of the consume scopes to run
            state.accepted = True
        return await super().consume_scope(call_next, msg)

    async def publish_scope(self, call_next: Callable[[Any], Awaitable[Any]], cmd: Any) -> Any:
        result = await call_next(cmd)
        if (
            getattr(cmd, "publish_type", None) is PublishType.REPLY
            and _was_returned(result)
            and (subscriber := as_hare_endpoint(self.context.get_local("handler_"))) is not None
            and not subscriber.hare.stream  # a stream's failures are handled, never retried
        ):
            msg = f"RabbitMQ returned the reply: nothing routes reply_to '{cmd.destination}'"
            raise UnroutableReplyError(msg)
        return result

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        if self._token is not None:
            self.context.reset_local(DELIVERY_KEY, self._token)
            self._token = None
        if isinstance(exc_val, HandedOn):  # hare logged what became of it: not "acked"
            await super().__aexit__(exc_type, exc_val, exc_tb)
            return True
        subscriber = as_hare_endpoint(self.context.get_local("handler_"))
        state = getattr(self, "_state", DeliveryState())
        if subscriber is None or subscriber.hare.stream:
            return await super().__aexit__(exc_type, exc_val, exc_tb)
        if exc_val is None:
            if state.idempotent is not None:  # the whole processing succeeded
                await state.idempotent.complete()
            return await super().__aexit__(exc_type, exc_val, exc_tb)
        if not isinstance(exc_val, Exception) or isinstance(exc_val, HandlerException):
            return await super().__aexit__(exc_type, exc_val, exc_tb)  # cancelled / deliberate
        if state.idempotent is not None:
            await state.idempotent.abandon()  # the retry runs the handler again
        raw = cast("AbstractIncomingMessage", self.msg)
        if raw.locked:  # hare settles it already (its copy is in flight): only report
            logger.error(
                "Message %s of queue '%s' failed after hare took it over (%s: %s)",
                raw.message_id,
                subscriber.queue_name,
                type(exc_val).__name__,
                exc_val,
            )
            return True
        hare = subscriber.hare
        log = self.context.get_local("logger")
        await hand_on(
            subscriber,
            raw,
            exc_val,
            dead_reason=classify(exc_val, hare.retry_on, hare.dead_on),
            log=log if isinstance(log, logging.Logger) else logger,
        )
        return True  # settled by hare: retried, dead-lettered, or back in Q


def _was_returned(result: Any) -> bool:
    """aiormq hands a returned message back as the publish's result (``on_return_raises``
    is off on FastStream's channels)."""
    return isinstance(result, DeliveredMessage) and isinstance(
        result.delivery, commands.Basic.Return
    )
