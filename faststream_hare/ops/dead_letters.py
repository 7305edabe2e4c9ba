"""Dead letters for operators and scripts: list, group, replay, purge, export ``Q.dead``.

Every function takes the AMQP URL and the work queue ``Q`` (messages live in ``Q.dead``),
opens a connection of its own and runs the library's dead-letter engine
(``faststream_hare.dead_letters``, as ``broker.republish_dead_messages``): each copy goes to
``Q`` (default exchange) with publisher confirms and mandatory routing, and the dead original
is acked only after the broker confirmed the copy; ``retry_count`` and the failure headers are
removed from the copy. Messages a call does not take stay in ``Q.dead`` in their original
order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TextIO

from faststream_hare.contract.names import dead_queue_name
from faststream_hare.dead_letters import (
    DeadLetter,
    DeadReport,
    Progress,
    ReplayError,
    Where,
    check_count,
    purge_letters,
    read_letters,
    replay_letters,
)
from faststream_hare.errors import QueueNotFoundError
from faststream_hare.ops.link import connect, dead_delivery_limit, queue_depth
from faststream_hare.ops.records import letter_record
from faststream_hare.ops.selection import group_dead

__all__ = (
    "OpsReport",
    "Progress",
    "ReplayStoppedError",
    "dead_depth",
    "export_dead",
    "group_dead",
    "list_dead",
    "purge_dead",
    "replay_dead",
)

logger = logging.getLogger("faststream_hare.ops")
#: What a replay or purge did (the library's ``DeadReport``).
OpsReport = DeadReport
#: A copy was not confirmed: its dead original stayed and the replay stopped (``ReplayError``).
ReplayStoppedError = ReplayError


async def list_dead(
    url: str, queue: str, *, limit: int | None = None, mgmt_url: str | None = None
) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``Q.dead``, head first, without removing any."""
    limit = check_count(limit, "--limit")
    async with connect(url) as connection:
        in_force = await dead_delivery_limit(connection, url, queue, mgmt_url)
        return await read_letters(connection, queue, limit=limit, delivery_limit=in_force)


async def dead_depth(url: str, queue: str) -> int:
    """How many messages ``Q.dead`` holds now (ready; exact, by passive declare)."""
    async with connect(url) as connection:
        depth = await queue_depth(connection, dead_queue_name(queue))
    if depth is None:
        msg = f"Queue '{dead_queue_name(queue)}' does not exist; check the queue name."
        raise QueueNotFoundError(msg)
    return depth[0]


async def export_dead(
    url: str, queue: str, out: TextIO, *, limit: int | None = None, mgmt_url: str | None = None
) -> int:
    """Write ``Q.dead`` as JSON lines (headers, properties, body); returns how many."""
    letters = await list_dead(url, queue, limit=limit, mgmt_url=mgmt_url)
    for letter in letters:
        out.write(json.dumps(letter_record(letter), ensure_ascii=False, sort_keys=True) + "\n")
    return len(letters)


async def replay_dead(
    url: str,
    queue: str,
    *,
    where: Iterable[str | Where] = (),
    count: int | None = None,
    rate: str | float | None = None,
    dry_run: bool = False,
    sample: int | None = None,
    on_progress: Progress | None = None,
    only: Iterable[str] | None = None,
    mgmt_url: str | None = None,
) -> OpsReport:
    """Move matching messages of ``Q.dead`` back to ``Q``, each copy confirmed first.

    ``count`` caps how many move (``None``: all that match); ``rate`` (``"20/s"``) spaces the
    copies; ``dry_run`` only counts; ``sample`` caps how many messages are read. Raises
    ``ReplayStoppedError`` (with the report) when a copy is not confirmed. ``only``
    (fingerprints) narrows the selection to messages seen before (a confirmation page's).
    """
    async with connect(url) as connection:
        report = await replay_letters(
            connection,
            queue,
            delivery_limit=await dead_delivery_limit(connection, url, queue, mgmt_url),
            where=where,
            count=count,
            rate=rate,
            dry_run=dry_run,
            sample=sample,
            on_progress=on_progress,
            only=only,
        )
    if not dry_run:
        logger.info("Replayed %d message(s) from '%s.dead' to '%s'", report.moved, queue, queue)
    return report


async def purge_dead(
    url: str,
    queue: str,
    *,
    where: Iterable[str | Where] = (),
    count: int | None = None,
    dry_run: bool = False,
    sample: int | None = None,
    on_progress: Progress | None = None,
    only: Iterable[str] | None = None,
    mgmt_url: str | None = None,
) -> OpsReport:
    """Delete matching messages of ``Q.dead`` (the rest stay); ``moved`` = purged."""
    async with connect(url) as connection:
        report = await purge_letters(
            connection,
            queue,
            delivery_limit=await dead_delivery_limit(connection, url, queue, mgmt_url),
            where=where,
            count=count,
            dry_run=dry_run,
            sample=sample,
            on_progress=on_progress,
            only=only,
        )
    if not dry_run:
        logger.info("Purged %d message(s) from '%s.dead'", report.moved, queue)
    return report
