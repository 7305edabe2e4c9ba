"""``hare doctor``'s rules, each on its own facts, without a broker."""

from __future__ import annotations

from dataclasses import replace

from faststream_hare.ops.doctor import CHECKS, ONE_DAY_MS, SubscriberFacts, diagnose, topology

HEALTHY = SubscriberFacts(
    queue="orders",
    retry_limit=5,
    delays_ms=(1_000, 5_000),
    dead_ttl_ms=31_449_600_000,
    planned_queues={
        "orders": {},
        "orders.delay.1000": {"x-message-ttl": 1000},
        "orders.dead": {"x-message-ttl": 31_449_600_000},
    },
    existing_queues={
        "orders": {"x-queue-type": "classic"},
        "orders.delay.1000": {"x-message-ttl": 1000},
        "orders.dead": None,
    },
    planned_exchanges={"orders": "topic"},
    existing_exchanges={"orders": "topic"},
    ready=3,
    consumers=1,
)


def checks(facts: SubscriberFacts, deep: int = 1000) -> list[tuple[str, str]]:
    return [(f.check, f.level) for f in diagnose([facts], deep_queue=deep)]


def test_healthy_has_no_findings() -> None:
    assert checks(HEALTHY) == []
    assert len(CHECKS) == 8


def test_stream_plugin_missing() -> None:
    facts = SubscriberFacts(
        queue="events", stream=True, stream_reachable=False, stream_endpoint="rabbitmq-stream://x"
    )
    (finding,) = diagnose([facts])
    assert finding.check == "stream_plugin"
    assert "rabbitmq-stream://x" in finding.problem
    assert "rabbitmq-plugins enable rabbitmq_stream" in finding.fix
    assert checks(replace(facts, stream_reachable=True)) == []
    assert checks(replace(facts, stream_reachable=None)) == []


def test_topology_argument_differs() -> None:
    existing = dict(HEALTHY.existing_queues or {})
    existing["orders.delay.1000"] = {"x-message-ttl": 999}
    (finding,) = diagnose([replace(HEALTHY, existing_queues=existing)])
    assert finding.check == "topology"
    assert finding.problem == (
        "queue 'orders.delay.1000' has x-message-ttl=999, hare plans 1000; "
        "startup would fail with a 406"
    )
    assert "delete queue 'orders.delay.1000'" in finding.fix


def test_dead_ttl_mismatch_is_only_a_warning() -> None:
    existing = dict(HEALTHY.existing_queues or {})
    existing["orders.dead"] = {"x-message-ttl": 31_449_600}
    (finding,) = diagnose([replace(HEALTHY, existing_queues=existing)])
    assert (finding.check, finding.level) == ("topology", "warn")
    assert "HARE_MQ_MESSAGE_TTL_MS=31449600" in finding.fix


def test_exchange_type_differs() -> None:
    (finding,) = diagnose([replace(HEALTHY, existing_exchanges={"orders": "direct"})])
    assert finding.problem == "exchange 'orders' is a direct exchange, hare plans topic"


def test_unknown_topology_is_not_a_finding() -> None:
    assert checks(replace(HEALTHY, existing_queues=None, existing_exchanges=None)) == []


def test_quorum_delivery_limit() -> None:
    # hare needs none; it steers around a limit above its reserve of returns (a warning)
    quorum = replace(HEALTHY, queue_type="quorum", delivery_limit=2)
    assert checks(quorum) == [("quorum_delivery_limit", "fail")]
    assert checks(replace(quorum, delivery_limit=6)) == [("quorum_delivery_limit", "fail")]
    assert checks(replace(quorum, delivery_limit=20)) == [("quorum_delivery_limit", "warn")]
    assert checks(replace(quorum, delivery_limit=None)) == []
    dead = replace(quorum, delivery_limit=None, dead_delivery_limit=20)
    assert checks(dead) == [("quorum_delivery_limit", "warn")]
    assert checks(replace(HEALTHY, delivery_limit=2)) == []  # classic queues have none


def test_quorum_delivery_limit_names_the_version_the_source_and_the_policy_fix() -> None:
    facts = replace(
        HEALTHY,
        queue_type="quorum",
        delivery_limit=20,
        limit_sources={HEALTHY.queue: "default"},
        broker_version=(4, 0, 5),
    )
    (finding,) = diagnose([facts])
    assert "more than 20 times (default, RabbitMQ 4.0.5)" in finding.problem
    assert "hare-reason: delivery_limit" in finding.problem
    assert "rabbitmqctl set_policy hare-delivery-limit" in finding.fix
    assert '"delivery-limit": -1' in finding.fix


def test_a_delivery_limit_argument_hare_would_add_is_not_a_startup_failure() -> None:
    # declared before 4.0 without x-delivery-limit: hare starts on it as it is
    facts = replace(
        HEALTHY,
        queue_type="quorum",
        planned_queues={HEALTHY.queue: {"x-queue-type": "quorum", "x-delivery-limit": -1}},
        existing_queues={HEALTHY.queue: {"x-queue-type": "quorum"}},
    )
    assert topology(facts) == []


def test_dead_ttl_and_delays() -> None:
    assert checks(replace(HEALTHY, dead_ttl_ms=ONE_DAY_MS - 1)) == [("dead_ttl", "fail")]
    assert checks(replace(HEALTHY, dead_ttl_ms=ONE_DAY_MS)) == []
    short = replace(HEALTHY, dead_ttl_ms=2_000)
    assert checks(short) == [("dead_ttl", "fail"), ("delay_above_dead_ttl", "fail")]
    assert checks(replace(HEALTHY, dead_ttl_ms=None)) == []


def test_prefetch_one_single_worker_deep_queue() -> None:
    deep = replace(HEALTHY, ready=5_000)
    assert checks(deep) == [("prefetch_single_worker", "fail")]
    assert checks(deep, deep=10_000) == []
    assert checks(replace(deep, prefetch_count=10)) == []
    assert checks(replace(deep, max_workers=4)) == []


def test_backlog_without_consumer() -> None:
    assert checks(replace(HEALTHY, consumers=0)) == [("no_consumer", "fail")]
    assert checks(replace(HEALTHY, consumers=0, ready=0)) == []
    assert checks(replace(HEALTHY, consumers=None)) == []
    assert checks(replace(HEALTHY, stream=True, consumers=0)) == []


def test_return_path_missing_exchange_or_binding() -> None:
    assert checks(replace(HEALTHY, existing_exchanges={"orders": None})) == [
        ("return_path", "fail")
    ]
    unbound = replace(HEALTHY, return_bindings={("orders", "orders", "orders"): False})
    [finding] = diagnose([unbound])
    assert (finding.check, finding.queue) == ("return_path", "orders")
    assert "not bound to exchange 'orders' with routing key 'orders'" in finding.problem
    bound = replace(HEALTHY, return_bindings={("orders", "orders", "orders"): True})
    assert checks(bound) == []
    assert checks(replace(HEALTHY, stream=True, existing_exchanges={"orders": None})) == []
