"""Telemetry as blinker signals, one per HareMq telemetry event (names joined by dots).

Receivers are called synchronously as ``receiver(sender, measurements=..., metadata=...)``
where ``sender`` is the broker. A receiver that raises is logged and never breaks message
handling. String metadata is credential-masked before it leaves hare.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from blinker import ANY, NamedSignal, Namespace

from faststream_hare._internal.masking import mask_text
from faststream_hare.contract.names import dead_queue_name

logger = logging.getLogger("faststream_hare.signals")

namespace = Namespace()

connection_connected = namespace.signal("hare_mq.connection.connected")
connection_disconnected = namespace.signal("hare_mq.connection.disconnected")
connection_reconnecting = namespace.signal("hare_mq.connection.reconnecting")
consumer_connected = namespace.signal("hare_mq.consumer.connected")
consumer_message_start = namespace.signal("hare_mq.consumer.message.start")
consumer_message_stop = namespace.signal("hare_mq.consumer.message.stop")
consumer_message_exception = namespace.signal("hare_mq.consumer.message.exception")
publisher_connected = namespace.signal("hare_mq.publisher.connected")
publisher_message_published = namespace.signal("hare_mq.publisher.message.published")
publisher_message_not_connected = namespace.signal("hare_mq.publisher.message.not_connected")
publisher_message_duplicate = namespace.signal("hare_mq.publisher.message.duplicate")
publisher_message_encoding_failed = namespace.signal("hare_mq.publisher.message.encoding_failed")
retry_publisher_message_retried = namespace.signal("hare_mq.retry_publisher.message.retried")
retry_publisher_message_dead_lettered = namespace.signal(
    "hare_mq.retry_publisher.message.dead_lettered"
)
auto_scaler_scaled = namespace.signal("hare_mq.auto_scaler.scaled")
stream_message_failed = namespace.signal("hare_mq.stream.message.failed")
# hare's own, for metrics and tracing
consumer_message_duplicate = namespace.signal("hare_mq.consumer.message.duplicate")
publisher_message_unroutable = namespace.signal("hare_mq.publisher.message.unroutable")
dead_letters_replayed = namespace.signal("hare_mq.dead_letters.replayed")
auto_scaler_checked = namespace.signal("hare_mq.auto_scaler.checked")
consumer_pool_resized = namespace.signal("hare_mq.consumer_pool.resized")
stream_message_processed = namespace.signal("hare_mq.stream.message.processed")
retry_publisher_message_requeued = namespace.signal("hare_mq.retry_publisher.message.requeued")
# the transactional outbox's relay (faststream_hare.outbox)
outbox_batch_relayed = namespace.signal("hare_mq.outbox.batch.relayed")
outbox_message_relayed = namespace.signal("hare_mq.outbox.message.relayed")
outbox_message_failed = namespace.signal("hare_mq.outbox.message.failed")
outbox_backlog_read = namespace.signal("hare_mq.outbox.backlog.read")
#: Before a retry/dead copy is sent; receivers may add to ``metadata["headers"]`` (tracing).
retry_publisher_message_copying = namespace.signal("hare_mq.retry_publisher.message.copying")

#: Every signal hare emits, by name.
ALL: dict[str, NamedSignal] = {
    sig.name: sig
    for sig in (
        connection_connected,
        connection_disconnected,
        connection_reconnecting,
        consumer_connected,
        consumer_message_start,
        consumer_message_stop,
        consumer_message_exception,
        publisher_connected,
        publisher_message_published,
        publisher_message_not_connected,
        publisher_message_duplicate,
        publisher_message_encoding_failed,
        retry_publisher_message_retried,
        retry_publisher_message_dead_lettered,
        auto_scaler_scaled,
        stream_message_failed,
        consumer_message_duplicate,
        publisher_message_unroutable,
        retry_publisher_message_requeued,
        retry_publisher_message_copying,
        dead_letters_replayed,
        auto_scaler_checked,
        consumer_pool_resized,
        stream_message_processed,
        outbox_batch_relayed,
        outbox_message_relayed,
        outbox_message_failed,
        outbox_backlog_read,
    )
}


def system_time() -> int:
    """Wall clock in nanoseconds, like Elixir's ``System.system_time()`` in native units."""
    return time.time_ns()


def monotonic_time() -> int:
    """Monotonic clock in nanoseconds (for spans and durations)."""
    return time.monotonic_ns()


def has_receivers(signal: NamedSignal) -> bool:
    """Cheap check so hot paths skip building payloads nobody listens to."""
    return bool(signal.receivers)


def emit(
    signal: NamedSignal,
    sender: Any,
    measurements: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> None:
    """Send ``signal`` with masked metadata; receiver errors are logged, never raised."""
    if not signal.receivers:
        return
    safe_metadata = {k: mask_text(v) if isinstance(v, str) else v for k, v in metadata.items()}
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, measurements=dict(measurements), metadata=safe_metadata)
        except Exception:
            logger.exception("A receiver of signal %s raised; ignored", signal.name)


class Listening:
    """Receivers connected to hare's signals for one sender (``None``: every broker), strongly
    referenced, and disconnected together by ``close()`` (metrics and tracing use it)."""

    def __init__(
        self, pairs: list[tuple[NamedSignal, Callable[..., None]]], broker: object = None
    ) -> None:
        self.sender: object = ANY if broker is None else broker
        self._pairs = pairs
        for signal, receiver in pairs:
            signal.connect(receiver, sender=self.sender, weak=False)

    def close(self) -> None:
        """Disconnect every receiver (idempotent)."""
        for signal, receiver in self._pairs:
            signal.disconnect(receiver, sender=self.sender)
        self._pairs = []


def emit_replayed(sender: Any, queue: str, moved: int) -> None:
    """Signal ``dead_letters_replayed`` for ``moved`` messages taken from ``queue.dead``.

    One place for every replay run in the app (``republish_dead_messages``, the mounted
    console), so ``hare_dead_letters_replayed_total`` counts them alike.
    """
    emit(
        dead_letters_replayed,
        sender,
        {"count": moved, "system_time": system_time()},
        {"queue": queue, "dead_queue": dead_queue_name(queue)},
    )
