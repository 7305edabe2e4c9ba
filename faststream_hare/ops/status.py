"""``hare status`` and the console's overview: depths, consumers, pools and stream offsets.

Ready counts and consumers come from passive declares (exact and immediate); unacked counts
from the management API (``None`` when it cannot be reached). Pool size is the live pool of
this process when the broker runs here (the console mounted in the app), else the number of
consumers RabbitMQ sees on ``Q``; the target is what the auto-scaler would aim for now. Only an
APP says which queues are pools: queues named with ``--url`` show none, and their type (a
stream shows its stream-protocol consumers) comes from the management API.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from rstream import Consumer
from rstream.exceptions import OffsetNotFound

from faststream_hare._internal import compat
from faststream_hare.contract.names import dead_queue_name, delay_queue_name
from faststream_hare.errors import HareError, ManagementUnavailableError
from faststream_hare.ops.link import connect, queue_depth
from faststream_hare.ops.management import Management
from faststream_hare.scaling.policy import target_size
from faststream_hare.streams.endpoint import stream_endpoint
from faststream_hare.topology.delivery_limit import (
    BrokerVersion,
    format_version,
    limit_of_record,
    limit_source,
    server_version,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

    from faststream_hare.config.settings import HareSettings
    from faststream_hare.ops.target import Target
    from faststream_hare.subscriber import HareSubscriber

Role = Literal["queue", "delay", "dead", "stream"]
STREAM_TIMEOUT_S = 5.0
QUEUE_TYPE_UNKNOWN = (
    "queue type unknown without the management API: a stream would show its stored messages "
    "as ready and its stream-protocol consumers as 0"
)
STREAM_CONSUMERS_UNKNOWN = (
    "stream consumers unknown: they read over the stream protocol, which RabbitMQ counts only "
    "with the rabbitmq_stream_management plugin"
)


@dataclass(frozen=True)
class QueueRow:
    """One queue's numbers; ``None`` = unknown (missing queue, or no management API)."""

    name: str
    role: Role
    exists: bool
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    #: A quorum queue's delivery limit in force: ``"none"``, ``"20 (default)"``…; ``None``
    #: for other queue types or without the management API. hare needs none.
    delivery_limit: str | None = None


@dataclass(frozen=True)
class QueueStatus:
    """A hare queue ``Q`` with its delay and dead queues, pool and stream offset."""

    queue: str
    kind: str
    rows: tuple[QueueRow, ...]
    pool_size: int | None = None
    pool_target: int | None = None
    stream_consumer: str | None = None
    stream_offset: int | None = None
    notes: tuple[str, ...] = field(default=())
    broker_version: str = "unknown"

    @property
    def dead(self) -> int | None:
        """Messages ready in ``Q.dead`` (``None`` when there is no dead queue)."""
        rows = [r for r in self.rows if r.role == "dead" and r.exists]
        return rows[0].ready if rows else None

    def row(self, role: Role) -> QueueRow | None:
        return next((r for r in self.rows if r.role == role), None)


async def gather_status(
    target: Target, *, queues: tuple[str, ...] = (), mgmt_url: str | None = None
) -> list[QueueStatus]:
    """Status of every hare queue of the APP, or of ``queues`` when only a URL is given."""
    management = Management.for_url(target.url, mgmt_url)
    records = await _records(management)
    async with connect(target.url) as connection:
        version = server_version(connection)
        statuses = await _statuses(connection, target, queues, records)
    shown = format_version(version)
    statuses = [await _with_stream_consumers(st, management) for st in statuses]
    return [
        replace(st, broker_version=shown, rows=_with_limits(st.rows, records, version))
        for st in statuses
    ]


async def _with_stream_consumers(status: QueueStatus, management: Management) -> QueueStatus:
    """A stream's consumers are those of the stream protocol (the AMQP count misses them)."""
    if status.kind != "stream":
        return status
    try:
        count = await management.stream_consumers(status.queue)
    except ManagementUnavailableError:
        count = None
    notes = status.notes
    if count is None:
        notes = (*notes, STREAM_CONSUMERS_UNKNOWN)
    rows = tuple(
        replace(r, consumers=count, ready=None, unacked=None) if r.role == "stream" else r
        for r in status.rows
    )
    return replace(status, rows=rows, notes=notes)


def _with_limits(
    rows: tuple[QueueRow, ...], records: dict[str, Any] | None, version: BrokerVersion | None
) -> tuple[QueueRow, ...]:
    return tuple(_with_limit(r, records, version) for r in rows)


def _with_limit(
    row: QueueRow, records: dict[str, Any] | None, version: BrokerVersion | None
) -> QueueRow:
    """``row`` with the delivery limit its quorum queue applies (management API)."""
    record = (records or {}).get(row.name)
    if record is None or record.get("type") != "quorum":
        return row
    limit = limit_of_record(version, record)
    shown = "none" if limit is None else f"{limit} ({limit_source(record)})"
    return replace(row, delivery_limit=shown)


async def _statuses(
    connection: AbstractConnection,
    target: Target,
    queues: tuple[str, ...],
    records: dict[str, Any] | None,
) -> list[QueueStatus]:
    if target.broker is not None:
        settings = target.broker.settings
        subs = sorted(target.broker.hare_subscribers(), key=lambda s: s.queue_name)
        if queues:
            subs = [s for s in subs if s.queue_name in queues]
        return [await _of_subscriber(connection, s, settings, records, target.url) for s in subs]
    return [await _of_queue(connection, q, records) for q in queues]


async def _records(management: Management) -> dict[str, dict[str, Any]] | None:
    try:
        return {q["name"]: q for q in await management.queues()}
    except ManagementUnavailableError:
        return None


async def _row(
    connection: AbstractConnection, name: str, role: Role, records: dict[str, Any] | None
) -> QueueRow:
    depth = await queue_depth(connection, name)
    if depth is None:
        return QueueRow(name, role, exists=False)
    record = (records or {}).get(name) or {}
    unacked = record.get("messages_unacknowledged")
    return QueueRow(
        name, role, True, depth[0], unacked if isinstance(unacked, int) else None, depth[1]
    )


async def _of_subscriber(
    connection: AbstractConnection,
    sub: HareSubscriber,
    settings: HareSettings,
    records: dict[str, Any] | None,
    url: str,
) -> QueueStatus:
    plan = sub.plan(settings)
    if sub.hare.stream:
        rows = [await _row(connection, sub.queue_name, "stream", records)]
        if sub.hare.stream_dead_letter:
            rows.append(await _row(connection, dead_queue_name(sub.queue_name), "dead", records))
        name = sub.hare.stream_consumer_name
        offset, notes = (None, ()) if name is None else await _stream_offset(url, settings, sub)
        return QueueStatus(sub.queue_name, "stream", tuple(rows), None, None, name, offset, notes)
    rows = [await _row(connection, sub.queue_name, "queue", records)]
    rows += [await _row(connection, d, "delay", records) for d in plan.delay_queues]
    rows.append(await _row(connection, dead_queue_name(sub.queue_name), "dead", records))
    main = rows[0]
    size, target = _pool(sub, settings, main)
    return QueueStatus(sub.queue_name, sub.hare.queue_type, tuple(rows), size, target)


def _pool(
    sub: HareSubscriber, settings: HareSettings, main: QueueRow
) -> tuple[int | None, int | None]:
    """(size, target): the live pool when it runs here, else the consumers the broker sees;
    nothing for a subscriber that is no pool."""
    if not sub.hare.uses_pool:
        return None, None
    size = main.consumers
    with contextlib.suppress(HareError):
        if sub.hare.uses_pool:
            size = sub.pool.size
    if sub.hare.auto_scaling is not None:
        policy = sub.hare.auto_scaling.resolve(settings.auto_scaler)
        return size, target_size(policy, main.ready or 0)
    return size, sub.hare.consumer_count


async def _stream_offset(
    url: str, settings: HareSettings, sub: HareSubscriber
) -> tuple[int | None, tuple[str, ...]]:
    """The offset stored on the server under ``stream_consumer_name`` (rstream)."""
    assert sub.hare.stream_consumer_name is not None
    endpoint = stream_endpoint(url, settings.stream_url)
    consumer = Consumer(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        vhost=endpoint.vhost,
        connection_name=f"{endpoint.connection_name}-ops",
    )
    try:
        async with compat.timeout(STREAM_TIMEOUT_S):
            await consumer.start()
            offset = await consumer.query_offset(sub.queue_name, sub.hare.stream_consumer_name)
            return offset, ()
    except OffsetNotFound:
        return None, ("no offset stored yet",)
    except Exception as exc:  # the stream port is optional for the rest of the status
        return None, (f"stream offset unknown: {endpoint.display} ({type(exc).__name__})",)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.close(), STREAM_TIMEOUT_S)


async def _of_queue(
    connection: AbstractConnection, queue: str, records: dict[str, Any] | None
) -> QueueStatus:
    """Without an APP: what the queue is, from the management API's record (``type``).

    A stream shows its row and ``Q.dead`` when it has one (the stream-protocol consumers are
    added by ``gather_status``); any other queue ``Q``, its delay queue(s) as the API lists
    them, and ``Q.dead``. Only an APP knows which queues are pools: none shows a pool here.
    """
    kind, notes = _kind_of(queue, records)
    if kind == "stream":
        rows = [await _row(connection, queue, "stream", records)]
        dead = await _row(connection, dead_queue_name(queue), "dead", records)
        rows += [dead] if dead.exists else []
    else:
        delays = sorted(
            n
            for n in (records or {})
            if n == delay_queue_name(queue) or n.startswith(f"{queue}.delay.")
        ) or [delay_queue_name(queue)]
        rows = [await _row(connection, queue, "queue", records)]
        rows += [await _row(connection, d, "delay", records) for d in delays]
        rows.append(await _row(connection, dead_queue_name(queue), "dead", records))
    if not rows[0].exists:
        msg = f"Queue '{queue}' does not exist; check --queue (the work queue Q)."
        raise HareError(msg)
    return QueueStatus(queue, kind, tuple(rows), notes=notes)


def _kind_of(queue: str, records: dict[str, Any] | None) -> tuple[str, tuple[str, ...]]:
    """The queue's type (classic, quorum, stream) as the management API records it."""
    if records is None:
        return "unknown", (QUEUE_TYPE_UNKNOWN,)
    kind = (records.get(queue) or {}).get("type")
    return (kind, ()) if isinstance(kind, str) and kind else ("unknown", ())
