"""HareMetrics turns each signal into the right metric sample (pure: signals sent by hand)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from faststream_hare import HareConfigError, signals
from faststream_hare.telemetry.prometheus import HareMetrics, delay_ms_label

SENDER = object()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Iterator[HareMetrics]:
    metrics = HareMetrics(registry=registry, broker=SENDER)
    yield metrics
    metrics.close()


def send(signal: Any, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    signals.emit(signal, SENDER, measurements, metadata)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.mark.usefixtures("metrics")
def test_retries_are_counted_by_queue_and_delay(registry: CollectorRegistry) -> None:
    send(
        signals.retry_publisher_message_retried,
        {"retry_count": 1},
        {"queue": "q", "delay_queue": "q.delay.500"},
    )
    send(
        signals.retry_publisher_message_retried,
        {"retry_count": 2},
        {"queue": "q", "delay_queue": "q.delay.500"},
    )
    send(
        signals.retry_publisher_message_retried,
        {"retry_count": 3},
        {"queue": "q", "delay_queue": "q.delay.9000", "delay_ms": 9000},
    )
    assert value(registry, "hare_retries_total", queue="q", delay_ms="500") == 2
    assert value(registry, "hare_retries_total", queue="q", delay_ms="9000") == 1


@pytest.mark.usefixtures("metrics")
def test_dead_letters_are_counted_by_reason_and_exception(registry: CollectorRegistry) -> None:
    send(
        signals.retry_publisher_message_dead_lettered,
        {"retry_count": 3},
        {
            "queue": "q",
            "dead_queue": "q.dead",
            "exception": "KeyError",
            "reason": "retries_exhausted",
        },
    )
    send(
        signals.retry_publisher_message_dead_lettered,
        {"retry_count": 0},
        {"queue": "q", "dead_queue": "q.dead", "exception": "ValidationError", "reason": "poison"},
    )
    name = "hare_dead_lettered_total"
    labels = {"queue": "q", "reason": "retries_exhausted", "exception": "KeyError"}
    assert value(registry, name, **labels) == 1
    labels = {"queue": "q", "reason": "poison", "exception": "ValidationError"}
    assert value(registry, name, **labels) == 1


@pytest.mark.usefixtures("metrics")
def test_publish_results_and_duplicates(registry: CollectorRegistry) -> None:
    meta = {"publisher": "p", "exchange": "ex", "routing_key": "rk"}
    for _ in range(3):
        send(signals.publisher_message_published, {}, meta)
    send(signals.publisher_message_duplicate, {}, {**meta, "dedup_key": "k"})
    send(signals.publisher_message_not_connected, {}, {**meta, "reason": "down"})
    send(signals.publisher_message_unroutable, {}, meta)
    send(signals.publisher_message_encoding_failed, {}, {**meta, "reason": "bad"})
    send(signals.publisher_message_published, {}, {**meta, "exchange": None})
    results = {
        result: value(registry, "hare_publish_total", exchange="ex", result=result)
        for result in ("ok", "duplicate", "not_connected", "unroutable", "encoding_failed")
    }
    assert results == {
        "ok": 3,
        "duplicate": 1,
        "not_connected": 1,
        "unroutable": 1,
        "encoding_failed": 1,
    }
    assert value(registry, "hare_publish_total", exchange="", result="ok") == 1
    assert value(registry, "hare_dedup_duplicates_total", exchange="ex") == 1


@pytest.mark.usefixtures("metrics")
def test_replays_consumer_duplicates_pools_depth_and_offsets(registry: CollectorRegistry) -> None:
    send(signals.dead_letters_replayed, {"count": 4}, {"queue": "q"})
    send(signals.dead_letters_replayed, {"count": 0}, {"queue": "q"})
    send(signals.consumer_message_duplicate, {}, {"queue": "q"})
    send(signals.consumer_pool_resized, {"size": 3}, {"queue": "q", "change": "added"})
    send(signals.auto_scaler_checked, {"depth": 250, "size": 3, "target": 5}, {"queue": "q"})
    send(signals.auto_scaler_checked, {"depth": None, "size": 3, "target": 3}, {"queue": "q"})
    send(signals.auto_scaler_scaled, {}, {"queue": "q", "from": 3, "to": 5, "depth": 250})
    send(signals.stream_message_processed, {"offset": 41}, {"queue": "s"})
    send(signals.stream_message_failed, {}, {"queue": "s", "offset": 42, "exception": "E"})
    assert value(registry, "hare_dead_letters_replayed_total", queue="q") == 4
    assert value(registry, "hare_consumer_duplicates_total", queue="q") == 1
    assert value(registry, "hare_pool_consumers", queue="q") == 5
    assert value(registry, "hare_pool_target", queue="q") == 3
    assert value(registry, "hare_queue_depth", queue="q") == 250  # an unread depth keeps it
    assert value(registry, "hare_stream_offset", queue="s") == 42


@pytest.mark.usefixtures("metrics")
def test_the_outbox_lag_follows_batches_and_backlog_reads(registry: CollectorRegistry) -> None:
    table = {"table": "hare_outbox"}
    batch = {"relayed": 2, "republished": 1, "failed": 0, "max_lag_s": 0.4}
    send(signals.outbox_batch_relayed, batch, table)
    assert value(registry, "hare_outbox_relayed_total", **table) == 2
    assert value(registry, "hare_outbox_republished_total", **table) == 1
    assert value(registry, "hare_outbox_lag_seconds", **table) == 0.4
    # a batch that published nothing says nothing about the lag
    send(signals.outbox_batch_relayed, {**batch, "relayed": 0, "failed": 3}, table)
    assert value(registry, "hare_outbox_lag_seconds", **table) == 0.4
    # a backlog read sets what waits, its age, and the lag as it is now
    backlog = {"waiting": 7, "failing": 2, "oldest_age_s": 31.5, "relay_lag_s": 12.0}
    send(signals.outbox_backlog_read, backlog, table)
    assert value(registry, "hare_outbox_waiting", **table) == 7
    assert value(registry, "hare_outbox_oldest_age_seconds", **table) == 31.5
    assert value(registry, "hare_outbox_lag_seconds", **table) == 12.0
    idle = {"waiting": 0, "failing": 0, "oldest_age_s": 0.0, "relay_lag_s": 0.0}
    send(signals.outbox_backlog_read, idle, table)
    assert value(registry, "hare_outbox_waiting", **table) == 0
    assert value(registry, "hare_outbox_lag_seconds", **table) == 0


def test_other_brokers_are_ignored_and_close_unregisters(registry: CollectorRegistry) -> None:
    metrics = HareMetrics(registry=registry, broker=SENDER)
    other = object()
    meta = {"queue": "q", "delay_queue": "q.delay.5"}
    signals.emit(signals.retry_publisher_message_retried, other, {"retry_count": 1}, meta)
    assert value(registry, "hare_retries_total", queue="q", delay_ms="5") is None
    metrics.close()
    send(signals.retry_publisher_message_retried, {"retry_count": 1}, meta)
    assert b"hare_retries" not in generate_latest(registry)
    HareMetrics(registry=registry).close()  # the names are free again


def test_every_metric_of_the_design_is_exported(registry: CollectorRegistry) -> None:
    metrics = HareMetrics(registry=registry)
    try:
        names = {metric.name for metric in registry.collect()}
    finally:
        metrics.close()
    assert names == {
        "hare_retries",
        "hare_dead_lettered",
        "hare_dead_letters_replayed",
        "hare_publish",
        "hare_dedup_duplicates",
        "hare_consumer_duplicates",
        "hare_pool_consumers",
        "hare_pool_target",
        "hare_queue_depth",
        "hare_stream_offset",
        "hare_outbox_relayed",
        "hare_outbox_republished",
        "hare_outbox_failed",
        "hare_outbox_lag_seconds",
        "hare_outbox_waiting",
        "hare_outbox_oldest_age_seconds",
    }


def test_delay_label_from_the_queue_name_or_the_plan() -> None:
    assert delay_ms_label("orders.delay.5000", {}) == "5000"
    assert delay_ms_label("orders.delay", {"orders.delay": 2000}) == "2000"
    assert delay_ms_label("orders.delay", {}) == "unknown"


def test_a_second_hare_metrics_on_one_registry_is_a_clear_error(
    registry: CollectorRegistry,
) -> None:
    first = HareMetrics(registry=registry)
    try:
        with pytest.raises(HareConfigError, match=r"one HareMetrics per registry"):
            HareMetrics(registry=registry)
        assert value(registry, "hare_retries_total", queue="q", delay_ms="1") is None
    finally:
        first.close()
    HareMetrics(registry=registry).close()  # nothing half-registered was left behind
