"""Checking ``subscriber()``'s hare keywords at decoration time.

Each failure is a ``HareConfigError`` with one sentence that names the option and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NoReturn

from faststream_hare.checks import check_int as _check_int
from faststream_hare.errors import HareConfigError
from faststream_hare.idempotency.registry import check_store as check_idempotency_store
from faststream_hare.options import AutoScaling, Idempotency
from faststream_hare.subscriber_options import (
    NAMED_OFFSETS,
    QueueTypeName,
    StreamOffset,
    SubscriberOptions,
)


def _fail(message: str) -> NoReturn:
    raise HareConfigError(message)


def build_subscriber_options(
    *,
    queue: str,
    exchange: str | None,
    routing_key: str | None = None,
    prefetch_count: int | None = None,
    retry_limit: int | None = None,
    delay_in_ms: int | None = None,
    delay_cascade_in_ms: Sequence[int] | None = None,
    queue_type: str | None = None,
    stream: bool | None = None,
    stream_offset: object = None,
    stream_consumer_name: str | None = None,
    stream_dead_letter: bool | None = None,
    consumer_count: int | None = None,
    auto_scaling: AutoScaling | None = None,
    cluster_unique: bool | None = None,
    retry_on: object = None,
    dead_on: object = None,
    immediate_retries: int | None = None,
    idempotent: Idempotency | None = None,
) -> SubscriberOptions:
    """Validate the raw keyword arguments of ``subscriber()`` into ``SubscriberOptions``."""
    if not isinstance(queue, str) or not queue:
        _fail("queue must be a non-empty queue name; pass it as the first argument.")
    if routing_key is not None and (not isinstance(routing_key, str) or not routing_key):
        _fail(f"routing_key must be a non-empty string, got {routing_key!r}.")
    prefetch = _check_int(
        "prefetch_count",
        1 if prefetch_count is None else prefetch_count,
        minimum=1,
        fix="use 1 or more (it is also the number of handlers run at once)",
    )
    if retry_limit is not None:
        _check_int("retry_limit", retry_limit, minimum=0, fix="use 0 to dead-letter at once")
    if delay_in_ms is not None:
        _check_int("delay_in_ms", delay_in_ms, minimum=0, fix="use a delay in milliseconds")
    cascade = _check_cascade(delay_cascade_in_ms)
    kind = _check_queue_type(queue_type)
    is_stream = bool(stream)
    offset = check_stream_offset("next" if stream_offset is None else stream_offset)
    if not is_stream:
        _reject_stream_only(stream_offset, stream_consumer_name, stream_dead_letter)
    if stream_consumer_name is not None and (
        not isinstance(stream_consumer_name, str) or not stream_consumer_name
    ):
        _fail(f"stream_consumer_name must be a non-empty string, got {stream_consumer_name!r}.")
    count = _check_int(
        "consumer_count",
        1 if consumer_count is None else consumer_count,
        minimum=1,
        fix="use 1 or more consumers (use auto_scaling with min_consumers to idle down)",
    )
    if auto_scaling is not None and not isinstance(auto_scaling, AutoScaling):
        _fail(
            f"auto_scaling must be an AutoScaling(...) object, got {auto_scaling!r}; "
            "write auto_scaling=AutoScaling(min_consumers=1, max_consumers=5)."
        )
    retryable = (Exception,) if retry_on is None else _check_exceptions("retry_on", retry_on)
    deadly = () if dead_on is None else _check_exceptions("dead_on", dead_on)
    immediate = _check_int(
        "immediate_retries",
        0 if immediate_retries is None else immediate_retries,
        minimum=0,
        fix="use 0 (the default) or the number of in-process re-runs, e.g. 2",
    )
    if idempotent is not None:
        if not isinstance(idempotent, Idempotency):
            _fail(
                f"idempotent must be an Idempotency(...) object, got {idempotent!r}; "
                "write idempotent=Idempotency(period_ms=86_400_000)."
            )
        check_idempotency_store(idempotent.store)
    if is_stream:
        _reject_stream_conflicts(
            queue_type=queue_type,
            retry_limit=retry_limit,
            delay_in_ms=delay_in_ms,
            cascade=cascade,
            consumer_count=consumer_count,
            auto_scaling=auto_scaling,
            cluster_unique=cluster_unique,
            retry_on=retry_on,
            dead_on=dead_on,
            immediate_retries=immediate_retries,
        )
        if idempotent is not None:
            _fail(
                "idempotent does not apply to a stream subscriber (a stream keeps every "
                "message and its offset says what was read); drop it or use a classic queue."
            )
    return SubscriberOptions(
        queue=queue,
        exchange=exchange,
        routing_key=routing_key,
        prefetch_count=prefetch,
        retry_limit=retry_limit,
        delay_in_ms=delay_in_ms,
        delay_cascade_in_ms=cascade,
        queue_type=kind,
        stream=is_stream,
        stream_offset=offset,
        stream_consumer_name=stream_consumer_name,
        stream_dead_letter=bool(stream_dead_letter),
        consumer_count=count,
        auto_scaling=auto_scaling,
        cluster_unique=bool(cluster_unique),
        retry_on=retryable,
        dead_on=deadly,
        immediate_retries=immediate,
        idempotent=idempotent,
    )


def _check_exceptions(option: str, value: object) -> tuple[type[Exception], ...]:
    """One exception class, or a tuple/list of them."""
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, Exception)):
            _fail(
                f"{option} entries must be exception classes, got {item!r}; "
                f"write {option}=(TimeoutError, ConnectionError)."
            )
    return tuple(items)


def _check_cascade(cascade: Sequence[int] | None) -> tuple[int, ...]:
    if cascade is None:
        return ()
    if isinstance(cascade, str | bytes) or not isinstance(cascade, Sequence):
        _fail(
            f"delay_cascade_in_ms must be a list of integers in milliseconds, got {cascade!r}; "
            "write delay_cascade_in_ms=[1_000, 5_000]."
        )
    for item in cascade:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            _fail(
                f"delay_cascade_in_ms entries must be integers >= 0 in milliseconds, got "
                f"{item!r}; write delay_cascade_in_ms=[1_000, 5_000]."
            )
    return tuple(cascade)


def _check_queue_type(queue_type: str | None) -> QueueTypeName:
    if queue_type is None or queue_type == "classic":
        return "classic"
    if queue_type == "quorum":
        return "quorum"
    if queue_type == "stream":
        _fail('queue_type="stream" is not an option; use stream=True for a stream queue.')
    _fail(f'queue_type must be "classic" or "quorum", got {queue_type!r}.')


def check_stream_offset(offset: object) -> StreamOffset:
    """Accept "next", "first", "last", an int >= 0 or a timezone-aware datetime."""
    if isinstance(offset, str):
        if offset in NAMED_OFFSETS:
            return offset  # type: ignore[return-value]
        _fail(
            f'stream_offset must be "next", "first", "last", an int or a datetime, got {offset!r}.'
        )
    if isinstance(offset, bool):
        _fail(f"stream_offset must not be a bool, got {offset!r}; use an int offset.")
    if isinstance(offset, int):
        if offset < 0:
            _fail(f"stream_offset must be an offset >= 0, got {offset}.")
        return offset
    if isinstance(offset, datetime):
        if offset.tzinfo is None or offset.utcoffset() is None:
            _fail(
                "stream_offset datetime must be timezone-aware; "
                "write datetime(..., tzinfo=timezone.utc)."
            )
        return offset
    _fail(f'stream_offset must be "next", "first", "last", an int or a datetime, got {offset!r}.')


def _reject_stream_only(
    stream_offset: object, stream_consumer_name: str | None, stream_dead_letter: bool | None
) -> None:
    for name, value in (
        ("stream_offset", stream_offset),
        ("stream_consumer_name", stream_consumer_name),
        ("stream_dead_letter", stream_dead_letter),
    ):
        if value is not None:
            _fail(f"{name} only applies to stream subscribers; add stream=True or drop it.")


def _reject_stream_conflicts(**given: object) -> None:
    for name, value in given.items():
        if value not in (None, (), False):
            option = "delay_cascade_in_ms" if name == "cascade" else name
            _fail(
                f"{option} does not apply to a stream subscriber (streams are never retried "
                "or pooled); drop it or use a classic queue."
            )


def check_ack_policy(policy: object, queue: str) -> None:
    """A retrying hare subscriber settles messages itself: no ACK_FIRST, no MANUAL."""
    name = getattr(policy, "name", None)
    if name in ("ACK_FIRST", "MANUAL"):
        _fail(
            f"ack_policy={name} cannot be used on hare subscriber '{queue}': hare acks a "
            "failed message only after its retry copy is confirmed; drop ack_policy (on the "
            "subscriber, router or broker) or make this a plain subscriber."
        )
