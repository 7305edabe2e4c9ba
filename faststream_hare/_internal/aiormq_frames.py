"""Many publishes in one socket write: the only module that reaches into aiormq's channel.

aiormq writes every ``basic_publish`` as a write of its own, and on a loopback connection
each write costs the client more CPU than the rest of the publish (the kernel delivers the
segment in the sender's time slice). Hare's copies and pipelined publishes arrive many per
event-loop turn, so they are written here as one frame buffer, with the confirm
bookkeeping aiormq's own ``basic_publish`` keeps: a delivery tag and a confirmation future
per message (resolved, failed or rejected by aiormq's reader, returns included), under the
channel's publish lock. ``tests/features/internals/test_publish_pipeline.py`` runs these names
against the aiormq release installed and a real broker (returns, encoding errors, a closing
channel).

Each channel is checked before its first write: an aiormq without this bookkeeping (a release
the pins do not admit) is published to through its public ``basic_publish``, one message a
write, with one WARNING — slower, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands
from pamqp.body import ContentBody
from pamqp.frame import marshal
from pamqp.header import ContentHeader

if TYPE_CHECKING:
    from aiormq.abc import AbstractChannel

logger = logging.getLogger("faststream_hare.publishing")

#: What ``write_publishes`` reads and keeps in step on aiormq's channel, as its own
#: ``basic_publish`` does (instance attributes: checked on the channel itself).
BOOKKEEPING = (
    "lock",
    "delivery_tag",
    "number",
    "max_content_size",
    "confirmations",
    "message_id_delivery_tag",
    "write_queue",
    "closing",
    "create_future",
    "is_closed",
)

#: Channels already checked: whether each has the bookkeeping (weak: channels come and go).
_CHECKED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_WARNED: list[bool] = []


def missing_bookkeeping(channel: object) -> tuple[str, ...]:
    """The names of ``BOOKKEEPING`` this channel lacks (or holds as something unexpected)."""
    missing = [name for name in BOOKKEEPING if not hasattr(channel, name)]
    raw: Any = channel
    if not missing and not (
        isinstance(raw.delivery_tag, int)
        and isinstance(raw.confirmations, dict)
        and isinstance(raw.message_id_delivery_tag, dict)
        and isinstance(raw.write_queue, asyncio.Queue)
    ):
        missing.append("their types")
    return tuple(missing)


def frames_supported(channel: object) -> bool:
    """True when this aiormq channel keeps the bookkeeping ``write_publishes`` relies on."""
    known = _CHECKED.get(channel)
    if known is None:
        missing = missing_bookkeeping(channel)
        known = _CHECKED[channel] = not missing
        if missing and not _WARNED:
            _WARNED.append(True)
            logger.warning(
                "This aiormq release lacks %s on its channel: hare publishes one message per "
                "write through aiormq's basic_publish instead (slower, same guarantees)",
                ", ".join(missing),
            )
    return known


@dataclass(frozen=True)
class Publish:
    """One message to publish with ``mandatory`` set, as AMQP sees it."""

    exchange: str
    routing_key: str
    body: bytes
    properties: commands.Basic.Properties


async def write_publishes(
    channel: AbstractChannel, publishes: list[Publish]
) -> list[asyncio.Future[Any] | Exception]:
    """Write ``publishes`` in one buffer; per message its confirmation future, or the error
    that kept it from being written (a message that cannot be encoded fails alone). Callers
    never write two publishes with one message id in flight together (``publish_pipeline``):
    aiormq matches a return to its publish by that id."""
    raw: Any = channel  # aiormq's Channel: the attributes below are not on its ABC
    if not frames_supported(channel):
        return [_publish_alone(channel, publish) for publish in publishes]
    if raw.is_closed:
        msg = f"{channel!r} closed"
        raise ChannelInvalidStateError(msg)
    async with raw.lock:
        first_tag = raw.delivery_tag
        outcomes: list[asyncio.Future[Any] | Exception] = []
        registered: list[tuple[int, str]] = []
        buffer = bytearray()
        for publish in publishes:
            try:
                frames = _encode(publish, raw.number, raw.max_content_size)
            except Exception as exc:  # reported to its own caller only
                outcomes.append(exc)
                continue
            raw.delivery_tag += 1
            tag = raw.delivery_tag
            message_id = str(publish.properties.message_id)  # set by _encode
            confirmation = raw.create_future()
            raw.confirmations[tag] = confirmation
            raw.message_id_delivery_tag[message_id] = tag
            confirmation.add_done_callback(_forget_message_id(raw, message_id, tag))
            registered.append((tag, message_id))
            buffer += frames
            outcomes.append(confirmation)
        if not registered:
            return outcomes
        frame = ChannelFrame(payload=bytes(buffer), should_close=False)
        try:
            raw.write_queue.put_nowait(frame)
            return outcomes
        except asyncio.QueueFull:
            put = asyncio.ensure_future(raw.write_queue.put(frame))
        try:
            await _until_enqueued(raw, put)
        except BaseException:
            if put.done() and not put.cancelled() and put.exception() is None:
                raise  # queued after all (a stop came at that moment): the tags stand
            put.cancel()
            # Not queued: the broker never saw these tags; hand them back, as aiormq does.
            raw.delivery_tag = first_tag
            for tag, message_id in registered:
                confirmation = raw.confirmations.pop(tag, None)
                if confirmation is not None:
                    confirmation.cancel()
                _unmap(raw, message_id, tag)
            raise
        return outcomes


async def write_methods(channel: AbstractChannel, methods: list[Any]) -> None:
    """Write AMQP methods that get no answer (``nowait`` set) in one buffer, behind whatever
    the channel sent before; a channel that refuses one closes (its next answer says so)."""
    raw: Any = channel
    if not frames_supported(channel):
        for method in methods:
            await call(channel, method)
        return
    if raw.is_closed:
        msg = f"{channel!r} closed"
        raise ChannelInvalidStateError(msg)
    async with raw.lock:
        payload = b"".join(marshal(method, raw.number) for method in methods)
        frame = ChannelFrame(payload=payload, should_close=False)
        try:
            raw.write_queue.put_nowait(frame)
        except asyncio.QueueFull:
            put = asyncio.ensure_future(raw.write_queue.put(frame))
            try:
                await _until_enqueued(raw, put)
            except BaseException:
                put.cancel()
                raise


async def call(channel: AbstractChannel, method: Any) -> Any:
    """Send ``method`` and return the broker's answer (``Channel.rpc``: public on aiormq's
    channel, not on its ABC)."""
    raw: Any = channel
    return await raw.rpc(method)


async def _until_enqueued(raw: Any, put: asyncio.Future[None]) -> None:
    """Wait for room in the connection's (bounded) write queue, but not past the channel's
    end: a connection that died leaves its queue full forever."""
    closing: asyncio.Future[Any] = raw.closing  # aiormq 7: an observer; 6.9: the channel's own
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_close(_: object) -> None:
        if not ended.done():
            ended.set_result(None)

    closing.add_done_callback(on_close)
    try:
        await asyncio.wait({put, ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing.remove_done_callback(on_close)
        ended.cancel()
        if closing_is_observer(raw):
            closing.cancel()  # only the observer; never the channel's own future
    if not put.done():
        msg = "the channel closed before the publishes were written"
        raise ChannelInvalidStateError(msg)
    put.result()


def _publish_alone(channel: AbstractChannel, publish: Publish) -> asyncio.Future[Any]:
    """aiormq's public path: its ``basic_publish`` ends like the confirmation future above."""
    return asyncio.ensure_future(
        channel.basic_publish(
            publish.body,
            exchange=publish.exchange,
            routing_key=publish.routing_key,
            properties=publish.properties,
            mandatory=True,
        )
    )


def closing_is_observer(raw: Any) -> bool:
    """aiormq 7 hands out a fresh observer of the channel's end per ``closing`` read (to be
    cancelled when done with); aiormq 6.9 hands out the channel's own future."""
    return isinstance(getattr(type(raw), "closing", None), property)


def _encode(publish: Publish, channel_number: int, max_content_size: int) -> bytes:
    """The method, header and body frames of one publish (a message id is given if none)."""
    properties = publish.properties
    if not properties.message_id:  # aiormq maps returns to confirmations by message id
        properties.message_id = uuid.uuid4().hex
    method = commands.Basic.Publish(
        exchange=publish.exchange, routing_key=publish.routing_key, mandatory=True
    )
    header = ContentHeader(properties=properties, body_size=len(publish.body))
    parts = [marshal(method, channel_number), marshal(header, channel_number)]
    body = publish.body
    for start in range(0, len(body), max_content_size):
        chunk = ContentBody(body[start : start + max_content_size])
        parts.append(marshal(chunk, channel_number))
    return b"".join(parts)


def _unmap(raw: Any, message_id: str, tag: int) -> None:
    """Drop the message id → tag entry aiormq uses to match a return, if still this one's."""
    if raw.message_id_delivery_tag.get(message_id) == tag:
        raw.message_id_delivery_tag.pop(message_id)


def _forget_message_id(raw: Any, message_id: str, tag: int) -> Any:
    return lambda _: _unmap(raw, message_id, tag)
