"""Prometheus metrics of hare's own work, fed by the blinker signals.

FastStream's ``RabbitPrometheusMiddleware`` already counts received, processed and published
messages and their durations; ``HareMetrics`` exports only what it cannot see: retries, dead
letters and their reasons, replays, ``publish_message`` results, duplicates, pools, queue depth
and stream offsets. Both can share one registry.

    metrics = HareMetrics(registry=registry)   # before the broker starts; metrics.close() to stop
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from faststream_hare._internal.extras import missing_extra

try:
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
except ModuleNotFoundError as exc:
    raise missing_extra(__name__, exc) from None

from faststream_hare.errors import HareConfigError
from faststream_hare.telemetry import signals

__all__ = ("DEAD_LETTER_REASONS", "HareMetrics", "delay_ms_label")

#: Values of the ``reason`` label of ``hare_dead_lettered_total``.
DEAD_LETTER_REASONS = (
    "retries_exhausted",
    "poison",
    "no_handler",
    "unrecoverable",
    "delivery_limit",
)

_CASCADE_SUFFIX = re.compile(r"\.delay\.(\d+)$")

Receiver = Callable[..., None]


class HareMetrics:
    """Subscribes to hare's signals and keeps the ``hare_*`` metrics in ``registry``.

    ``broker`` limits it to one broker's signals (default: every broker in the process).
    ``close()`` disconnects it and removes its metrics from the registry.
    """

    def __init__(
        self, registry: CollectorRegistry | None = REGISTRY, *, broker: Any = None
    ) -> None:
        self.registry = registry
        self._delays: dict[tuple[int, str], str] = {}
        self.retries = _counter(
            "hare_retries",
            "Failed messages sent to a delay queue for a later retry.",
            "queue",
            "delay_ms",
        )
        self.dead_lettered = _counter(
            "hare_dead_lettered",
            "Messages moved to the dead-letter queue Q.dead.",
            "queue",
            "reason",
            "exception",
        )
        self.replayed = _counter(
            "hare_dead_letters_replayed", "Dead messages moved back from Q.dead to Q.", "queue"
        )
        self.publish = _counter(
            "hare_publish", "publish_message calls, by PublishResult.", "exchange", "result"
        )
        self.dedup_duplicates = _counter(
            "hare_dedup_duplicates",
            "publish_message calls skipped as duplicates by a Unique publisher.",
            "exchange",
        )
        self.consumer_duplicates = _counter(
            "hare_consumer_duplicates",
            "Deliveries acked without running the handler (already handled, idempotent=).",
            "queue",
        )
        self.pool_consumers = _gauge(
            "hare_pool_consumers", "Workers of a consumer pool in this process.", "queue"
        )
        self.pool_target = _gauge(
            "hare_pool_target", "Pool size the auto-scaler steers to.", "queue"
        )
        self.queue_depth = _gauge(
            "hare_queue_depth",
            "Ready messages in a pooled queue, as last sampled by the auto-scaler.",
            "queue",
        )
        self.stream_offset = _gauge(
            "hare_stream_offset", "Last processed offset of a stream subscriber.", "queue"
        )
        self.outbox_relayed = _counter(
            "hare_outbox_relayed",
            "Outbox messages the relay published (confirmed) and deleted.",
            "table",
        )
        self.outbox_republished = _counter(
            "hare_outbox_republished",
            "Of those, messages an earlier try may have published (possible duplicates).",
            "table",
        )
        self.outbox_failed = _counter(
            "hare_outbox_failed",
            "Outbox publish tries that failed (the row stays and is tried again).",
            "table",
            "reason",
        )
        self.outbox_lag = _gauge(
            "hare_outbox_lag_seconds",
            "How far behind the relay is: the commit-to-confirm time of the slowest message "
            "of its last batch, or, when it last read the backlog, the age of the oldest row "
            "it could publish now (0: none).",
            "table",
        )
        self.outbox_waiting = _gauge(
            "hare_outbox_waiting",
            "Committed outbox rows not yet published, when the relay last read the backlog.",
            "table",
        )
        self.outbox_oldest_age = _gauge(
            "hare_outbox_oldest_age_seconds",
            "Age of the oldest waiting outbox row (0: none), when the relay last read it.",
            "table",
        )
        self._metrics: tuple[Counter | Gauge, ...] = (
            self.retries,
            self.dead_lettered,
            self.replayed,
            self.publish,
            self.dedup_duplicates,
            self.consumer_duplicates,
            self.pool_consumers,
            self.pool_target,
            self.queue_depth,
            self.stream_offset,
            self.outbox_relayed,
            self.outbox_republished,
            self.outbox_failed,
            self.outbox_lag,
            self.outbox_waiting,
            self.outbox_oldest_age,
        )
        if registry is not None:
            _register(registry, self._metrics)
        self._listening = signals.Listening(
            [
                (signals.retry_publisher_message_retried, self._on_retried),
                (signals.retry_publisher_message_dead_lettered, self._on_dead_lettered),
                (signals.dead_letters_replayed, self._on_replayed),
                (signals.publisher_message_published, self._publish_result("ok")),
                (signals.publisher_message_duplicate, self._on_publish_duplicate),
                (signals.publisher_message_not_connected, self._publish_result("not_connected")),
                (signals.publisher_message_unroutable, self._publish_result("unroutable")),
                (
                    signals.publisher_message_encoding_failed,
                    self._publish_result("encoding_failed"),
                ),
                (signals.consumer_message_duplicate, self._on_consumer_duplicate),
                (signals.consumer_pool_resized, self._on_pool_resized),
                (signals.auto_scaler_scaled, self._on_scaled),
                (signals.auto_scaler_checked, self._on_checked),
                (signals.stream_message_processed, self._on_stream_offset),
                (signals.stream_message_failed, self._on_stream_offset),
                (signals.outbox_batch_relayed, self._on_outbox_batch),
                (signals.outbox_message_failed, self._on_outbox_failed),
                (signals.outbox_backlog_read, self._on_outbox_backlog),
            ],
            broker,
        )

    def close(self) -> None:
        """Stop listening and unregister the metrics (a new ``HareMetrics`` may take over)."""
        self._listening.close()
        if self.registry is not None:
            for metric in self._metrics:
                self.registry.unregister(metric)
            self.registry = None

    # -- receivers (sender, measurements=..., metadata=...) --------------------------------

    def _on_outbox_batch(self, sender: Any, measurements: Mapping[str, Any], metadata: Any) -> None:
        table = metadata["table"]
        self.outbox_relayed.labels(table).inc(measurements["relayed"])
        self.outbox_republished.labels(table).inc(measurements["republished"])
        if measurements["relayed"]:
            self.outbox_lag.labels(table).set(measurements["max_lag_s"])

    def _on_outbox_backlog(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Any
    ) -> None:
        table = metadata["table"]
        self.outbox_waiting.labels(table).set(measurements["waiting"])
        self.outbox_oldest_age.labels(table).set(measurements["oldest_age_s"])
        self.outbox_lag.labels(table).set(measurements["relay_lag_s"])

    def _on_outbox_failed(self, sender: Any, measurements: Any, metadata: Any) -> None:
        self.outbox_failed.labels(metadata["table"], metadata["reason"]).inc()

    def _on_retried(self, sender: Any, measurements: Mapping[str, Any], metadata: Any) -> None:
        delay = self._delay_label(sender, measurements, metadata)
        self.retries.labels(metadata["queue"], delay).inc()

    def _on_dead_lettered(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        reason = str(metadata.get("reason") or "retries_exhausted")
        exception = str(metadata.get("exception") or "")
        self.dead_lettered.labels(metadata["queue"], reason, exception).inc()

    def _on_replayed(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        count = int(measurements.get("count", 0))
        if count > 0:
            self.replayed.labels(metadata["queue"]).inc(count)

    def _publish_result(self, result: str) -> Receiver:
        def count(sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
            self.publish.labels(metadata.get("exchange") or "", result).inc()

        return count

    def _on_publish_duplicate(
        self, sender: Any, measurements: Any, metadata: Mapping[str, Any]
    ) -> None:
        exchange = metadata.get("exchange") or ""
        self.publish.labels(exchange, "duplicate").inc()
        self.dedup_duplicates.labels(exchange).inc()

    def _on_consumer_duplicate(
        self, sender: Any, measurements: Any, metadata: Mapping[str, Any]
    ) -> None:
        self.consumer_duplicates.labels(metadata["queue"]).inc()

    def _on_pool_resized(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        self.pool_consumers.labels(metadata["queue"]).set(measurements["size"])

    def _on_scaled(self, sender: Any, measurements: Any, metadata: Mapping[str, Any]) -> None:
        self.pool_consumers.labels(metadata["queue"]).set(metadata["to"])

    def _on_checked(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        queue = metadata["queue"]
        self.pool_target.labels(queue).set(measurements["target"])
        if measurements.get("depth") is not None:  # None: the depth could not be read
            self.queue_depth.labels(queue).set(measurements["depth"])

    def _on_stream_offset(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        offset = measurements.get("offset", metadata.get("offset"))
        if isinstance(offset, int) and not isinstance(offset, bool):
            self.stream_offset.labels(metadata["queue"]).set(offset)

    def _delay_label(
        self, sender: Any, measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> str:
        """The retry's delay: from the signal, else the delay queue's name or plan (cached)."""
        given = measurements.get("delay_ms", metadata.get("delay_ms"))
        if given is not None:
            return str(given)
        delay_queue = str(metadata.get("delay_queue") or "")
        key = (id(sender), delay_queue)
        label = self._delays.get(key)
        if label is None:
            label = delay_ms_label(delay_queue, _planned_delays(sender, metadata.get("queue")))
            self._delays[key] = label
        return label


def _counter(name: str, documentation: str, *labels: str) -> Counter:
    return Counter(name, documentation, labels, registry=None)


def _gauge(name: str, documentation: str, *labels: str) -> Gauge:
    return Gauge(name, documentation, labels, registry=None)


def _register(registry: CollectorRegistry, metrics: tuple[Counter | Gauge, ...]) -> None:
    """Register all of ``metrics`` or none of them, with one clear error."""
    done: list[Counter | Gauge] = []
    try:
        for metric in metrics:
            registry.register(metric)
            done.append(metric)
    except ValueError as exc:
        for metric in done:
            registry.unregister(metric)
        msg = (
            f"registry already holds hare's metrics ({exc}); create one HareMetrics per "
            "registry, or close() the first one before creating another."
        )
        raise HareConfigError(msg) from None


def delay_ms_label(delay_queue: str, planned: Mapping[str, int]) -> str:
    """``delay_ms`` label for a delay queue: ``Q.delay.<ms>`` says it, ``Q.delay`` its plan."""
    match = _CASCADE_SUFFIX.search(delay_queue)
    if match is not None:
        return match.group(1)
    delay = planned.get(delay_queue)
    return "unknown" if delay is None else str(delay)


def _planned_delays(broker: Any, queue: object) -> dict[str, int]:
    """``{delay queue: x-message-ttl}`` of ``queue``'s hare subscriber on ``broker``."""
    try:
        settings = broker.active_settings
        for subscriber in broker.hare_subscribers():
            if subscriber.queue_name == queue:
                plan = subscriber.plan(settings)
                return {
                    decl.name: int(decl.arguments["x-message-ttl"])
                    for decl in plan.queues
                    if decl.name in plan.delay_queues
                }
    except Exception:  # a broker-like sender without hare's attributes: no plan to read
        return {}
    return {}
