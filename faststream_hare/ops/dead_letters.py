"""Dead letters for operators and scripts: list, group, replay, purge, export ``Q.dead``.

Every function takes the AMQP URL and the work queue ``Q`` (messages live in ``Q.dead``) and
opens a connection of its own. A replay publishes each copy to ``Q`` (default exchange) on a
channel with publisher confirms and mandatory routing, and acks the dead original only after
the broker confirmed the copy (as ``broker.republish_dead_messages``); ``retry_count`` and the
failure headers are removed from the copy. Messages a call does not take stay in ``Q.dead`` in
their original order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from faststream_hare.errors import HareError
from faststream_hare.ops.copier import ConfirmedCopier, CopyNotConfirmedError
from faststream_hare.ops.link import DeadScan, OpsQueueError, connect, queue_depth, scan_dead
from faststream_hare.ops.records import letter_record
from faststream_hare.ops.selection import (
    DeadLetter,
    Where,
    check_count,
    group_dead,
    matches_all,
    parse_rate,
    parse_wheres,
)
from faststream_hare.topology.names import dead_queue_name

__all__ = (
    "OpsReport",
    "ReplayStoppedError",
    "dead_depth",
    "export_dead",
    "group_dead",
    "list_dead",
    "purge_dead",
    "replay_dead",
)

logger = logging.getLogger("faststream_hare.ops")
#: ``on_progress(done, total)``: ``done`` messages read of at most ``total``.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OpsReport:
    """What a replay or purge did: ``moved`` (or purged), ``skipped`` (not matching), ``failed``."""

    queue: str
    moved: int
    skipped: int
    failed: int
    dry_run: bool
    scanned: int
    error: str | None = None


class ReplayStoppedError(HareError):
    """A copy was not confirmed: its dead original went back and the replay stopped."""

    def __init__(self, message: str, report: OpsReport) -> None:
        super().__init__(message)
        self.report = report


async def list_dead(url: str, queue: str, *, limit: int | None = None) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``Q.dead``, head first, without removing any."""
    limit = check_count(limit, "--limit")
    letters: list[DeadLetter] = []
    async with connect(url) as connection, scan_dead(connection, queue) as scan:
        while (item := await scan.next(limit)) is not None:
            scan.hold(item[0])
            letters.append(item[1])
    return letters


async def dead_depth(url: str, queue: str) -> int:
    """How many messages ``Q.dead`` holds now (ready; exact, by passive declare)."""
    async with connect(url) as connection:
        depth = await queue_depth(connection, dead_queue_name(queue))
    if depth is None:
        msg = f"Queue '{dead_queue_name(queue)}' does not exist; check the queue name."
        raise OpsQueueError(msg)
    return depth[0]


async def export_dead(url: str, queue: str, out: TextIO, *, limit: int | None = None) -> int:
    """Write ``Q.dead`` as JSON lines (headers, properties, body); returns how many."""
    letters = await list_dead(url, queue, limit=limit)
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
) -> OpsReport:
    """Move matching messages of ``Q.dead`` back to ``Q``, each copy confirmed first.

    ``count`` caps how many move (``None``: all that match); ``rate`` (``"20/s"``) spaces the
    copies; ``dry_run`` only counts; ``sample`` caps how many messages are read. Raises
    ``ReplayStoppedError`` (with the report) when a copy is not confirmed.
    """
    conditions, limit = parse_wheres(where), check_count(count)
    per_second = parse_rate(rate)
    async with connect(url) as connection, scan_dead(connection, queue) as scan:
        mover = ConfirmedCopier(connection, queue, per_second) if not dry_run else None
        try:
            report = await _run(scan, conditions, limit, sample, dry_run, mover, on_progress)
        finally:
            if mover is not None:
                await mover.close()
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
) -> OpsReport:
    """Delete matching messages of ``Q.dead`` (the rest stay, in order); ``moved`` = purged."""
    conditions, limit = parse_wheres(where), check_count(count)
    async with connect(url) as connection, scan_dead(connection, queue) as scan:
        report = await _run(scan, conditions, limit, sample, dry_run, None, on_progress)
    if not dry_run:
        logger.info("Purged %d message(s) from '%s.dead'", report.moved, queue)
    return report


async def _run(
    scan: DeadScan,
    where: tuple[Where, ...],
    limit: int | None,
    sample: int | None,
    dry_run: bool,
    mover: ConfirmedCopier | None,
    on_progress: Progress | None,
) -> OpsReport:
    """One pass over ``Q.dead``: take what matches (up to ``limit``), hold the rest."""
    taken = skipped = 0
    total = min(scan.depth_at_start, sample) if sample is not None else scan.depth_at_start
    while limit is None or taken < limit:
        item = await scan.next(sample)
        if item is None:
            break
        message, letter = item
        if not matches_all(letter, where):
            scan.hold(message)
            skipped += 1
        elif dry_run:
            scan.hold(message)
            taken += 1
        elif mover is None:
            await message.ack()
            taken += 1
        else:
            try:
                await mover.move(message)
            except CopyNotConfirmedError as failure:
                await message.nack(requeue=True)
                report = OpsReport(scan.queue, taken, skipped, 1, dry_run, scan.read, str(failure))
                msg = (
                    f"Replay from '{scan.dead_name}' to '{scan.queue}' stopped after {taken} "
                    f"message(s): {failure}; the rest stay in '{scan.dead_name}'."
                )
                raise ReplayStoppedError(msg, report) from None
            taken += 1
        if on_progress is not None:
            on_progress(scan.read, total)
    return OpsReport(scan.queue, taken, skipped, 0, dry_run, scan.read)
