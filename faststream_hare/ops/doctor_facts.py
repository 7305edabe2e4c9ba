"""What ``hare doctor`` observes: plans from the APP, and what the broker already holds.

Nothing is declared: existing arguments come from the management API (so a mismatch is
found before a startup would hit a 406), depths and consumers from passive declares, and the
stream port is probed with a TCP connect.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faststream_hare.contract.names import dead_queue_name
from faststream_hare.errors import ManagementUnavailableError
from faststream_hare.ops.doctor import Finding, SubscriberFacts
from faststream_hare.ops.link import connect, queue_depth
from faststream_hare.ops.management import Management
from faststream_hare.streams.endpoint import stream_endpoint
from faststream_hare.topology.delivery_limit import (
    BrokerVersion,
    limit_of_record,
    limit_source,
    server_version,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

    from faststream_hare.broker import HareBroker
    from faststream_hare.config.settings import HareSettings
    from faststream_hare.subscriber import HareSubscriber

PROBE_TIMEOUT_S = 3.0


async def gather_facts(
    broker: HareBroker, url: str, *, mgmt_url: str | None = None
) -> tuple[list[SubscriberFacts], list[Finding]]:
    """Facts per hare subscriber, plus warnings about what could not be observed."""
    settings = broker.settings
    management = Management.for_url(url, mgmt_url)
    notes: list[Finding] = []
    facts = []
    async with connect(url) as connection:
        version = server_version(connection)
        for sub in sorted(broker.hare_subscribers(), key=lambda s: s.queue_name):
            try:
                existing = await _existing(management, sub, settings, version)
            except ManagementUnavailableError as exc:
                existing = None
                if not notes:
                    notes.append(
                        Finding(
                            "topology",
                            "*",
                            f"topology arguments were not checked: {exc}",
                            "enable rabbitmq_management or pass --mgmt-url",
                            "warn",
                        )
                    )
            facts.append(await _facts(connection, url, sub, settings, existing, version))
    return facts, notes


async def _existing(
    management: Management,
    sub: HareSubscriber,
    settings: HareSettings,
    version: BrokerVersion | None,
) -> Existing:
    """Queue arguments, exchange types and quorum delivery limits as the broker holds them."""
    plan = sub.plan(settings, version)
    queues: dict[str, dict[str, Any] | None] = {}
    limits: dict[str, int | None] = {}
    sources: dict[str, str] = {}
    for decl in plan.queues:
        record = await management.queue(decl.name)
        queues[decl.name] = None if record is None else dict(record.get("arguments") or {})
        if record is not None and record.get("type") == "quorum":
            limits[decl.name] = limit_of_record(version, record)
            sources[decl.name] = limit_source(record)
    exchanges = {}
    for ex in plan.exchanges:
        record = await management.exchange(ex.name)
        exchanges[ex.name] = None if record is None else str(record.get("type"))
    bindings = {
        (b.source, b.destination, b.routing_key): await management.bound(
            b.source, b.destination, b.routing_key
        )
        for b in plan.bindings
        if not b.to_exchange and b.source == sub.queue_name
    }
    return Existing(queues, exchanges, limits, sources, bindings)


@dataclass(frozen=True)
class Existing:
    """What the management API shows of one subscriber's topology."""

    queues: dict[str, dict[str, Any] | None]
    exchanges: dict[str, str | None]
    limits: dict[str, int | None]
    limit_sources: dict[str, str]
    #: Exchange ``Q`` → queue ``Q`` (source, queue, routing key): bound or not.
    bindings: dict[tuple[str, str, str], bool]


async def _facts(
    connection: AbstractConnection,
    url: str,
    sub: HareSubscriber,
    settings: HareSettings,
    existing: Existing | None,
    version: BrokerVersion | None,
) -> SubscriberFacts:
    plan = sub.plan(settings, version)
    depth = await queue_depth(connection, sub.queue_name)
    options = sub.hare
    dead = dead_queue_name(sub.queue_name)
    dead_args = (existing.queues.get(dead) if existing else None) or {}
    ttl = dead_args.get("x-message-ttl", settings.message_ttl_ms)
    delays = options.delay_cascade_in_ms or (
        (options.delay_in_ms if options.delay_in_ms is not None else settings.delay_in_ms),
    )
    workers = options.consumer_count
    if options.auto_scaling is not None:
        workers = options.auto_scaling.resolve(settings.auto_scaler).max_consumers
    endpoint = stream_endpoint(url, settings.stream_url)
    return SubscriberFacts(
        queue=sub.queue_name,
        stream=options.stream,
        queue_type=options.queue_type,
        retry_limit=(
            options.retry_limit if options.retry_limit is not None else settings.retry_limit
        ),
        prefetch_count=options.prefetch_count,
        max_workers=workers,
        delays_ms=() if options.stream else tuple(delays),
        dead_ttl_ms=None if options.stream and not options.stream_dead_letter else int(ttl),
        planned_queues={q.name: q.arguments for q in plan.queues},
        existing_queues=existing.queues if existing else None,
        planned_exchanges={e.name: e.type for e in plan.exchanges},
        existing_exchanges=existing.exchanges if existing else None,
        return_bindings=existing.bindings if existing else None,
        delivery_limit=existing.limits.get(sub.queue_name) if existing else None,
        dead_delivery_limit=existing.limits.get(dead) if existing else None,
        limit_sources=existing.limit_sources if existing else {},
        broker_version=version,
        ready=depth[0] if depth else None,
        consumers=depth[1] if depth else None,
        stream_reachable=(
            await _reachable(endpoint.host, endpoint.port) if options.stream else None
        ),
        stream_endpoint=endpoint.display,
    )


async def _reachable(host: str, port: int) -> bool:
    """True when something accepts a TCP connection at ``host:port``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), PROBE_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
