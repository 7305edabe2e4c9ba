"""``SubscriberOptions``: the validated hare options of one subscriber.

``SubscriberOptions.from_keywords`` builds them from ``subscriber()``'s keywords at decoration
time; each failure is a ``HareConfigError`` with one sentence that names the option and the
fix. ``None`` means "use the broker's settings", resolved when the broker starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypedDict

from faststream_hare.config.options import AutoScaling, Idempotency, check_int, fail
from faststream_hare.errors import HareConfigError
from faststream_hare.idempotency.registry import check_store as check_idempotency_store

QueueTypeName: TypeAlias = Literal["classic", "quorum"]
StreamOffset: TypeAlias = Literal["next", "first", "last"] | int | datetime
NAMED_OFFSETS = ("next", "first", "last")


@dataclass(frozen=True, kw_only=True)
class SubscriberOptions:
    """The hare options of one subscriber; ``None`` means "use the broker's settings"."""

    queue: str
    exchange: str | None = None
    routing_key: str | None = None
    prefetch_count: int = 1
    retry_limit: int | None = None
    delay_in_ms: int | None = None
    delay_cascade_in_ms: tuple[int, ...] = ()
    queue_type: QueueTypeName = "classic"
    stream: bool = False
    stream_offset: StreamOffset = "next"
    stream_consumer_name: str | None = None
    stream_dead_letter: bool = False
    consumer_count: int = 1
    auto_scaling: AutoScaling | None = None
    cluster_unique: bool = False
    #: Exceptions worth a retry (anything else dead-letters at once as "unrecoverable").
    retry_on: tuple[type[Exception], ...] = (Exception,)
    #: Exceptions that dead-letter at once, even when they are also in ``retry_on``.
    dead_on: tuple[type[Exception], ...] = ()
    #: Re-runs of a failing handler in process, before the delayed path.
    immediate_retries: int = 0
    idempotent: Idempotency | None = None

    @property
    def uses_pool(self) -> bool:
        """True when the subscriber runs named workers (``consumer_count``/``auto_scaling``)."""
        return self.consumer_count != 1 or self.auto_scaling is not None or self.cluster_unique

    @classmethod
    def from_keywords(
        cls,
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
        """The one constructor: ``subscriber()``'s raw keywords, checked at decoration time."""
        if not isinstance(queue, str) or not queue:
            fail("queue must be a non-empty queue name; pass it as the first argument.")
        if routing_key is not None and (not isinstance(routing_key, str) or not routing_key):
            fail(f"routing_key must be a non-empty string, got {routing_key!r}.")
        prefetch = check_int(
            "prefetch_count",
            1 if prefetch_count is None else prefetch_count,
            minimum=1,
            fix="use 1 or more (it is also the number of handlers run at once)",
        )
        if retry_limit is not None:
            check_int("retry_limit", retry_limit, minimum=0, fix="use 0 to dead-letter at once")
        if delay_in_ms is not None:
            check_int("delay_in_ms", delay_in_ms, minimum=0, fix="use a delay in milliseconds")
        cascade = _check_cascade(delay_cascade_in_ms)
        kind = _check_queue_type(queue_type)
        is_stream = bool(stream)
        offset = check_stream_offset("next" if stream_offset is None else stream_offset)
        if not is_stream:
            _reject_stream_only(stream_offset, stream_consumer_name, stream_dead_letter)
        if stream_consumer_name is not None and (
            not isinstance(stream_consumer_name, str) or not stream_consumer_name
        ):
            fail(f"stream_consumer_name must be a non-empty string, got {stream_consumer_name!r}.")
        count = check_int(
            "consumer_count",
            1 if consumer_count is None else consumer_count,
            minimum=1,
            fix="use 1 or more consumers (use auto_scaling with min_consumers to idle down)",
        )
        if auto_scaling is not None and not isinstance(auto_scaling, AutoScaling):
            fail(
                f"auto_scaling must be an AutoScaling(...) object, got {auto_scaling!r}; "
                "write auto_scaling=AutoScaling(min_consumers=1, max_consumers=5)."
            )
        retryable = (Exception,) if retry_on is None else _check_exceptions("retry_on", retry_on)
        deadly = () if dead_on is None else _check_exceptions("dead_on", dead_on)
        immediate = check_int(
            "immediate_retries",
            0 if immediate_retries is None else immediate_retries,
            minimum=0,
            fix="use 0 (the default) or the number of in-process re-runs, e.g. 2",
        )
        if idempotent is not None:
            if not isinstance(idempotent, Idempotency):
                fail(
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
                fail(
                    "idempotent does not apply to a stream subscriber (a stream keeps every "
                    "message and its offset says what was read); drop it or use a classic queue."
                )
        return cls(
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


class HareSubscriberKeywords(TypedDict, total=False):
    """The hare keywords of ``subscriber()`` (HareBroker, HareRouter and the FastAPI router).

    Giving any of them (not ``None``) makes the subscriber a hare subscriber; one list, so a new
    option is added in one place.
    """

    routing_key: str | None
    prefetch_count: int | None
    retry_limit: int | None
    delay_in_ms: int | None
    delay_cascade_in_ms: Sequence[int] | None
    queue_type: str | None
    stream: bool | None
    stream_offset: Any
    stream_consumer_name: str | None
    stream_dead_letter: bool | None
    consumer_count: int | None
    auto_scaling: AutoScaling | None
    cluster_unique: bool | None
    retry_on: type[Exception] | Sequence[type[Exception]] | None
    dead_on: type[Exception] | Sequence[type[Exception]] | None
    immediate_retries: int | None
    idempotent: Idempotency | None


def given_hare_keywords(keywords: HareSubscriberKeywords) -> dict[str, Any]:
    """The hare keywords that were given a value (``None`` counts as not given)."""
    unknown = sorted(set(keywords) - set(HareSubscriberKeywords.__annotations__))
    if unknown:
        known = ", ".join(sorted(HareSubscriberKeywords.__annotations__))
        fail(f"subscriber() got an unknown option {unknown[0]!r}; the hare options are: {known}.")
    return {name: value for name, value in keywords.items() if value is not None}


def _check_exceptions(option: str, value: object) -> tuple[type[Exception], ...]:
    """One exception class, or a tuple/list of them."""
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, Exception)):
            fail(
                f"{option} entries must be exception classes, got {item!r}; "
                f"write {option}=(TimeoutError, ConnectionError)."
            )
    return tuple(items)


def _check_cascade(cascade: Sequence[int] | None) -> tuple[int, ...]:
    if cascade is None:
        return ()
    if isinstance(cascade, str | bytes) or not isinstance(cascade, Sequence):
        fail(
            f"delay_cascade_in_ms must be a list of integers in milliseconds, got {cascade!r}; "
            "write delay_cascade_in_ms=[1_000, 5_000]."
        )
    for item in cascade:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            fail(
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
        fail('queue_type="stream" is not an option; use stream=True for a stream queue.')
    msg = f'queue_type must be "classic" or "quorum", got {queue_type!r}.'
    raise HareConfigError(msg)


def check_stream_offset(offset: object) -> StreamOffset:
    """Accept "next", "first", "last", an int >= 0 or a timezone-aware datetime."""
    if isinstance(offset, str):
        if offset in NAMED_OFFSETS:
            return offset  # type: ignore[return-value]
        fail(
            f'stream_offset must be "next", "first", "last", an int or a datetime, got {offset!r}.'
        )
    if isinstance(offset, bool):
        fail(f"stream_offset must not be a bool, got {offset!r}; use an int offset.")
    if isinstance(offset, int):
        if offset < 0:
            fail(f"stream_offset must be an offset >= 0, got {offset}.")
        return offset
    if isinstance(offset, datetime):
        if offset.tzinfo is None or offset.utcoffset() is None:
            fail(
                "stream_offset datetime must be timezone-aware; "
                "write datetime(..., tzinfo=timezone.utc)."
            )
        return offset
    msg = f'stream_offset must be "next", "first", "last", an int or a datetime, got {offset!r}.'
    raise HareConfigError(msg)


def _reject_stream_only(
    stream_offset: object, stream_consumer_name: str | None, stream_dead_letter: bool | None
) -> None:
    for name, value in (
        ("stream_offset", stream_offset),
        ("stream_consumer_name", stream_consumer_name),
        ("stream_dead_letter", stream_dead_letter),
    ):
        if value is not None:
            fail(f"{name} only applies to stream subscribers; add stream=True or drop it.")


def _reject_stream_conflicts(**given: object) -> None:
    for name, value in given.items():
        if value not in (None, (), False):
            option = "delay_cascade_in_ms" if name == "cascade" else name
            fail(
                f"{option} does not apply to a stream subscriber (streams are never retried "
                "or pooled); drop it or use a classic queue."
            )
