"""The pure topology plan matches HareMq's naming (docs/design.md, Topology)."""

from __future__ import annotations

from faststream_hare.contract.names import delay_for_retry, delay_queue_for_retry
from faststream_hare.topology.plan import (
    BindingDecl,
    ExchangeDecl,
    QueueDecl,
    plan_stream_topology,
    plan_topology,
)


def test_classic_plan_with_cascade() -> None:
    plan = plan_topology(
        queue="orders",
        routing_key="order.created",
        exchange="orders_ex",
        exchange_type="topic",
        delay_cascade_in_ms=[5_000, 15_000, 30_000],
        message_ttl_ms=1_000,
    )
    assert plan.exchanges == (ExchangeDecl("orders_ex", "topic"), ExchangeDecl("orders", "topic"))
    names = [q.name for q in plan.queues]
    assert names == [
        "orders",
        "orders.delay.5000",
        "orders.delay.15000",
        "orders.delay.30000",
        "orders.dead",
    ]
    assert "orders.delay" not in names
    assert plan.queues[0] == QueueDecl("orders", {})
    assert plan.queues[2].arguments == {
        "x-message-ttl": 15_000,
        "x-dead-letter-exchange": "orders",
        "x-dead-letter-routing-key": "order.created",
    }
    assert plan.queues[-1] == QueueDecl("orders.dead", {"x-message-ttl": 1_000})
    assert plan.bindings == (
        BindingDecl("orders_ex", "orders", "order.created", to_exchange=True),
        BindingDecl("orders", "orders", "order.created"),
    )


def test_plan_without_cascade_or_exchange() -> None:
    plan = plan_topology(queue="jobs", routing_key="jobs", exchange=None, exchange_type="topic")
    assert [e.name for e in plan.exchanges] == ["jobs"]
    assert plan.delay_queues == ("jobs.delay",)
    assert plan.queues[1].arguments["x-message-ttl"] == 10_000
    assert plan.queues[-1].arguments == {"x-message-ttl": 31_449_600_000}
    assert plan.bindings == (BindingDecl("jobs", "jobs", "jobs"),)


def test_duplicate_cascade_values_declare_one_queue() -> None:
    plan = plan_topology(
        queue="q", routing_key="q", exchange=None, exchange_type="topic", delay_cascade_in_ms=[5, 5]
    )
    assert plan.delay_queues == ("q.delay.5",)


def test_quorum_main_queue() -> None:
    plan = plan_topology(
        queue="q", routing_key="q", exchange=None, exchange_type="topic", queue_type="quorum"
    )
    assert plan.queues[0].arguments == {"x-queue-type": "quorum"}


def test_stream_plan() -> None:
    plan = plan_stream_topology(
        queue="events", routing_key="ev.#", exchange="events_ex", exchange_type="topic"
    )
    assert [q.name for q in plan.queues] == ["events"]
    assert plan.queues[0].arguments == {"x-queue-type": "stream"}
    assert plan.bindings == (BindingDecl("events_ex", "events", "ev.#"),)
    assert plan.dead_queue is None
    assert (
        plan_stream_topology(
            queue="e", routing_key="e", exchange=None, exchange_type="topic"
        ).exchanges
        == ()
    )


def test_cascade_choice_in_given_order_last_repeats() -> None:
    cascade = [1_000, 5_000, 30_000]
    assert [delay_for_retry(cascade, 0, i) for i in range(1, 6)] == [
        1_000,
        5_000,
        30_000,
        30_000,
        30_000,
    ]
    assert delay_for_retry([300, 100], 0, 1) == 300  # given order, not sorted
    assert delay_for_retry([], 2_000, 7) == 2_000
    assert delay_queue_for_retry("q", [], 3) == "q.delay"
    assert delay_queue_for_retry("q", cascade, 2) == "q.delay.5000"


def test_quorum_makes_delay_and_dead_queues_quorum_with_at_least_once_dead_lettering() -> None:
    plan = plan_topology(
        queue="q",
        routing_key="rk",
        exchange=None,
        exchange_type="topic",
        queue_type="quorum",
        delay_cascade_in_ms=[100, 200],
        message_ttl_ms=5_000,
    )
    by_name = {q.name: q.arguments for q in plan.queues}
    for delay_queue in ("q.delay.100", "q.delay.200"):
        assert by_name[delay_queue]["x-queue-type"] == "quorum"
        assert by_name[delay_queue]["x-dead-letter-strategy"] == "at-least-once"
        assert by_name[delay_queue]["x-overflow"] == "reject-publish"
    assert by_name["q.dead"] == {"x-queue-type": "quorum", "x-message-ttl": 5_000}


def test_classic_delay_queues_keep_haremqs_arguments() -> None:
    plan = plan_topology(queue="q", routing_key="rk", exchange=None, exchange_type="topic")
    by_name = {q.name: q.arguments for q in plan.queues}
    assert by_name["q.delay"] == {
        "x-message-ttl": 10_000,
        "x-dead-letter-exchange": "q",
        "x-dead-letter-routing-key": "rk",
    }


def test_a_stream_is_replicated_by_default_and_sized_only_when_asked() -> None:
    default = plan_stream_topology(queue="s", routing_key="s", exchange=None, exchange_type="topic")
    assert default.queues[0].arguments == {"x-queue-type": "stream"}
    sized = plan_stream_topology(
        queue="s", routing_key="s", exchange=None, exchange_type="topic", initial_cluster_size=3
    )
    assert sized.queues[0].arguments == {"x-queue-type": "stream", "x-initial-cluster-size": 3}
