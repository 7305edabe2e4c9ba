"""The pure retry rules (HareMq's, with its retry_count type quirk fixed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aio_pika
import pytest

from faststream_hare.contract.amqp_long import AmqpLong
from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.headers import (
    read_retry_count,
    replay_headers,
    retries_performed,
    retries_text,
    truncate_utf8,
)
from faststream_hare.retry.decision import copy_headers, decide


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, 0),
        ({}, 0),
        ({"retry_count": 2}, 2),
        ({"a": "b", "retry_count": 3}, 3),
        ({"retry_count": AmqpLong(4)}, 4),
        ({"retry_count": "5"}, 0),
        ({"retry_count": True}, 0),
        ({"retry_count": 1.5}, 0),
        ({"retry_count": -3}, 0),
    ],
)
def test_read_retry_count(headers: dict | None, expected: int) -> None:
    assert read_retry_count(headers) == expected


def test_decide_below_limit_goes_to_delay_queue() -> None:
    decision = decide(queue="q", arrived_with=1, retry_limit=3, cascade=[100, 200])
    assert (decision.action, decision.queue, decision.retry_count) == ("retry", "q.delay.200", 2)


def test_decide_at_limit_dead_letters() -> None:
    decision = decide(queue="q", arrived_with=2, retry_limit=2, cascade=())
    assert (decision.action, decision.queue, decision.retry_count) == ("dead", "q.dead", 3)
    assert decide(queue="q", arrived_with=0, retry_limit=0, cascade=()).action == "dead"
    assert (
        decide(queue="q", arrived_with=0, retry_limit=9, cascade=(), poison=True).action == "dead"
    )


def test_handler_sees_message_limit_plus_one_times() -> None:
    count, attempts = 0, 0
    while True:
        attempts += 1
        decision = decide(queue="q", arrived_with=count, retry_limit=5, cascade=())
        if decision.action == "dead":
            break
        count = decision.retry_count
    assert attempts == 6


def test_copy_headers_put_retry_count_first_as_long() -> None:
    decision = decide(queue="q", arrived_with=0, retry_limit=3, cascade=())
    headers = copy_headers({"x-death": [{"count": 1}], "retry_count": 0, "k": "v"}, decision, None)
    assert list(headers) == ["retry_count", "x-death", "k"]
    assert type(headers["retry_count"]) is AmqpLong
    assert headers["retry_count"] == 1


def test_dead_copy_carries_the_reason_cut_to_1_kib() -> None:
    decision = decide(queue="q", arrived_with=3, retry_limit=3, cascade=())
    headers = copy_headers({}, decision, ValueError("é" * 2_000))
    assert headers["hare-exception"] == "ValueError"
    assert len(headers["hare-error"].encode()) <= 1024
    assert truncate_utf8("short") == "short"


def test_replay_headers_reset_retry_state() -> None:
    headers = {"retry_count": 4, "hare-error": "x", "hare-exception": "E", "keep": 1}
    assert replay_headers(headers) == {"keep": 1}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, 0),  # never retried (poison at once, or published straight to Q.dead)
        ({"retry_count": 1}, 0),  # hare's dead copy: the count it arrived with, plus one
        ({"retry_count": 4}, 3),
        ({"retry_count": 4, "x-death": [{"queue": "q.delay.5000", "reason": "expired"}]}, 3),
        # RabbitMQ dead-lettered it from Q itself (a delivery limit): the count is as it came
        ({"retry_count": 2, "x-death": [{"queue": "q", "reason": "delivery_limit"}]}, 2),
        ({"x-death": [{"queue": b"q", "reason": "delivery_limit"}]}, 0),
    ],
)
def test_retries_performed(headers: dict | None, expected: int) -> None:
    assert retries_performed(headers) == expected


def test_retries_text() -> None:
    assert [retries_text(n) for n in (0, 1, 3)] == ["0 retries", "1 retry", "3 retries"]


def test_dead_copy_carries_when_it_was_dead_lettered_in_utc() -> None:
    dead = decide(queue="q", arrived_with=3, retry_limit=3, cascade=())
    moment = datetime(2026, 12, 7, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=2)))
    headers = copy_headers({}, dead, ValueError("x"), now=moment)
    assert headers["hare-dead-lettered-at"] == "2026-12-07T01:04:05.678Z"
    retry = decide(queue="q", arrived_with=0, retry_limit=3, cascade=())
    assert "hare-dead-lettered-at" not in copy_headers({}, retry, ValueError("x"))
    assert "hare-dead-lettered-at" not in replay_headers(headers)


@pytest.mark.parametrize(
    "copy",
    [
        MessageCopy(b"bare"),
        MessageCopy(
            b'{"id": 1}',
            headers={"retry_count": AmqpLong(3), "hare-reason": "poison"},
            content_type="application/json",
            content_encoding="utf-8",
            message_id="m-1",
            correlation_id="c-1",
            priority=5,
            message_type="order",
            app_id="shop",
            reply_to="replies",
            timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc),
        ),
    ],
)
def test_a_copy_carries_the_properties_aio_pika_would_send(copy: MessageCopy) -> None:
    """The copy is published from its own properties; they equal aio-pika's, field by field."""
    message = aio_pika.Message(
        body=copy.body,
        headers=copy.headers,
        content_type=copy.content_type,
        content_encoding=copy.content_encoding,
        message_id=copy.message_id,
        correlation_id=copy.correlation_id,
        priority=copy.priority,
        type=copy.message_type,
        app_id=copy.app_id,
        reply_to=copy.reply_to,
        timestamp=copy.timestamp,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    assert copy.properties() == message.properties
