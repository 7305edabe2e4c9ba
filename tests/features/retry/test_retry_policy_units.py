"""Pure parts of the retry policies: backoff, classification, option checks."""

from __future__ import annotations

from typing import Any

import pytest

from faststream_hare import HareBroker, HareConfigError, Idempotency, backoff
from faststream_hare.retry.decision import classify, decide
from faststream_hare.topology.plan import plan_topology


def test_backoff_doubles_up_to_the_cap() -> None:
    assert backoff(1000, 2, 5000, 4) == (1000, 2000, 4000, 5000)
    assert backoff(first_ms=1_000, factor=2, max_ms=60_000, steps=5) == (
        1000,
        2000,
        4000,
        8000,
        16000,
    )
    assert backoff(100, 1.5, steps=3) == (100, 150, 225)
    assert backoff(500, 1, steps=2) == (500, 500)
    assert backoff(1000, 10, 2000, 5) == (1000, 2000, 2000, 2000, 2000)


def test_backoff_delay_queues_collapse_repeated_values() -> None:
    plan = plan_topology(
        queue="q",
        routing_key="q",
        exchange=None,
        exchange_type="topic",
        queue_type="classic",
        delay_in_ms=10_000,
        delay_cascade_in_ms=backoff(1000, 2, 5000, 6),
        message_ttl_ms=1_000,
    )
    assert sorted(plan.delay_queues) == [
        "q.delay.1000",
        "q.delay.2000",
        "q.delay.4000",
        "q.delay.5000",
    ]


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"first_ms": 1000, "steps": 0}, "steps"),
        ({"first_ms": 1000, "factor": 0.5, "steps": 3}, "factor"),
        ({"first_ms": 1000, "factor": True, "steps": 3}, "factor"),
        ({"first_ms": 0, "steps": 3}, "first_ms"),
        ({"first_ms": 1000, "max_ms": 10, "steps": 3}, "max_ms"),
        ({"first_ms": 1000}, "steps"),
    ],
)
def test_backoff_refuses_bad_values_naming_the_option(kwargs: dict[str, Any], names: str) -> None:
    with pytest.raises(HareConfigError, match=names):
        backoff(**kwargs)


def test_classify_dead_on_wins_and_unlisted_exceptions_are_unrecoverable() -> None:
    assert classify(TimeoutError(), (TimeoutError,), ()) is None
    assert classify(ValueError(), (TimeoutError,), ()) == "unrecoverable"
    assert classify(KeyError(), (LookupError,), (KeyError,)) == "unrecoverable"
    assert classify(IndexError(), (LookupError,), (KeyError,)) is None
    assert classify(RuntimeError(), (Exception,), ()) is None


def test_an_unrecoverable_decision_goes_to_the_dead_queue_whatever_the_count() -> None:
    decision = decide(
        queue="q", arrived_with=0, retry_limit=5, cascade=(), dead_reason="unrecoverable"
    )
    assert (decision.action, decision.queue, decision.reason) == ("dead", "q.dead", "unrecoverable")


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"retry_on": (TimeoutError, "ValueError")}, "retry_on"),
        ({"retry_on": 3}, "retry_on"),
        ({"dead_on": (KeyboardInterrupt,)}, "dead_on"),
        ({"dead_on": [ValueError()]}, "dead_on"),
        ({"immediate_retries": -1}, "immediate_retries"),
        ({"immediate_retries": 1.5}, "immediate_retries"),
        ({"idempotent": True}, "idempotent"),
        ({"idempotent": Idempotency(1000, store="mysql://x")}, "Idempotency.store"),
        ({"stream": True, "idempotent": Idempotency(1000)}, "idempotent"),
        ({"stream": True, "retry_on": (ValueError,)}, "retry_on"),
        ({"stream": True, "immediate_retries": 2}, "immediate_retries"),
    ],
)
def test_subscriber_options_are_checked_at_decoration_time(
    kwargs: dict[str, Any], option: str
) -> None:
    broker = HareBroker()
    with pytest.raises(HareConfigError, match=option) as caught:
        broker.subscriber("q", **kwargs)
    assert str(caught.value).count(". ") <= 1  # one sentence


def test_good_policy_options_make_a_hare_subscriber() -> None:
    broker = HareBroker()
    sub = broker.subscriber("q", retry_on=TimeoutError, dead_on=[KeyError], immediate_retries=2)
    assert sub.hare.retry_on == (TimeoutError,)  # type: ignore[attr-defined]
    assert sub.hare.dead_on == (KeyError,)  # type: ignore[attr-defined]
    assert sub.hare.immediate_retries == 2  # type: ignore[attr-defined]
    default = broker.subscriber("r", hare=True)
    assert default.hare.retry_on == (Exception,)  # type: ignore[attr-defined]
    assert default.hare.idempotent is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"period_ms": 0}, "Idempotency.period_ms"),
        ({"period_ms": None}, "Idempotency.period_ms"),
        ({"period_ms": 1000, "lease_ms": 0}, "Idempotency.lease_ms"),
        ({"period_ms": 1000, "keys": "order_id"}, "Idempotency.keys"),
        ({"period_ms": 1000, "keys": []}, "Idempotency.keys"),
    ],
)
def test_idempotency_checks_its_values(kwargs: dict[str, Any], option: str) -> None:
    with pytest.raises(HareConfigError, match=option):
        Idempotency(**kwargs)
