"""How ops results look: rich tables for people, plain dicts for ``--json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from faststream_hare.contract.names import dead_queue_name
from faststream_hare.ops.dead_letters import OpsReport
from faststream_hare.ops.doctor import CHECKS, Finding, SubscriberFacts
from faststream_hare.ops.records import group_record, letter_record, preview
from faststream_hare.ops.selection import DeadGroup, DeadLetter
from faststream_hare.ops.status import QueueStatus
from faststream_hare.topology.delivery_limit import format_version


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def status_table(statuses: Sequence[QueueStatus]) -> Table:
    """One row per queue (Q, its delay queues, Q.dead), grouped by hare queue."""
    version = statuses[0].broker_version if statuses else "unknown"
    table = Table(title=f"hare queues (RabbitMQ {version})", show_lines=False)
    columns = ("queue", "role", "ready", "unacked", "consumers", "pool", "stream offset")
    for column in (*columns, "delivery limit"):
        left = column in ("queue", "role")
        table.add_column(column, justify="left" if left else "right", no_wrap=column == "queue")
    for status in statuses:
        pool = (
            f"{_n(status.pool_size)} / {_n(status.pool_target)}"
            if status.pool_target is not None
            else ""
        )
        for i, row in enumerate(status.rows):
            offset = ""
            if i == 0 and status.stream_consumer:
                offset = f"{status.stream_consumer}: {_n(status.stream_offset)}"
            if not row.exists:
                table.add_row(row.name, row.role, "missing", "", "", "", "", "")
                continue
            stream = row.role == "stream"  # nothing is "ready" in a stream: see its offsets
            table.add_row(
                row.name,
                row.role,
                "–" if stream else _n(row.ready),
                "–" if stream else _n(row.unacked),
                _n(row.consumers),
                pool if i == 0 else "",
                offset,
                _limit(row.delivery_limit),
            )
        for note in status.notes:
            table.add_row("", "note", note, "", "", "", "", "")
    return table


def _limit(shown: str | None) -> str:
    """A quorum queue's limit in force, and hare's need when it differs."""
    if shown is None or shown == "none":
        return shown or ""
    return f"{shown}, hare needs none"


def status_json(statuses: Sequence[QueueStatus]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(s) | {"dead": s.dead} for s in statuses]


def letters_table(queue: str, letters: Sequence[DeadLetter]) -> Table:
    table = Table(title=f"{queue}.dead ({len(letters)} shown, head first)")
    for column in ("#", "exception", "error", "retries", "message id", "body"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            str(letter.position),
            letter.exception or "",
            (letter.error or "")[:60],
            str(letter.retries),
            letter.message_id or "",
            preview(letter, 40),
        )
    return table


def groups_table(queue: str, groups: Sequence[DeadGroup], by: str) -> Table:
    table = Table(title=f"{queue}.dead grouped by {by}")
    for column in ("group", "count", "first #", "last #", "first seen", "last seen", "sample"):
        table.add_column(column)
    for g in groups:
        table.add_row(
            g.key,
            str(g.count),
            str(g.first_position),
            str(g.last_position),
            g.first_seen.isoformat(timespec="seconds") if g.first_seen else "",
            g.last_seen.isoformat(timespec="seconds") if g.last_seen else "",
            (g.sample_error or "")[:60],
        )
    return table


def letters_json(letters: Sequence[DeadLetter]) -> list[dict[str, Any]]:
    return [letter_record(letter) for letter in letters]


def groups_json(groups: Sequence[DeadGroup]) -> list[dict[str, Any]]:
    return [group_record(g) for g in groups]


def report_line(report: OpsReport, verb: str = "moved") -> str:
    """``moved 3, skipped 2, failed 0`` (``would move`` on a dry run)."""
    if report.dry_run:
        return (
            f"dry run on {report.queue}.dead: would {verb.removesuffix('d')} "
            f"{report.moved}, skipped {report.skipped}; nothing changed"
        )
    target = f" to {report.queue}" if verb == "moved" else ""
    return (
        f"{verb} {report.moved}, skipped {report.skipped}, failed {report.failed} "
        f"({report.queue}.dead{target})"
    )


def report_lines(report: OpsReport, verb: str = "moved") -> list[str]:
    """The summary line, then each message it moved or purged (would, on a dry run) by id."""
    return [report_line(report, verb), *(f"  {message_id}" for message_id in report.ids)]


def report_json(report: OpsReport) -> dict[str, Any]:
    return dataclasses.asdict(report)


def broker_lines(facts: Sequence[SubscriberFacts]) -> list[str]:
    """The broker's version, then each quorum queue's delivery limit against hare's need."""
    version = format_version(facts[0].broker_version) if facts else "unknown"
    lines = [f"RabbitMQ {version}"]
    for f in facts:
        if f.queue_type != "quorum" or f.stream:
            continue
        dead = dead_queue_name(f.queue)
        for name, limit in ((f.queue, f.delivery_limit), (dead, f.dead_delivery_limit)):
            if f.existing_queues is None or (f.existing_queues or {}).get(name) is None:
                shown = "not observed"
            elif limit is None:
                shown = "none"
            else:
                shown = f"{limit} ({f.limit_sources.get(name, 'argument')})"
            lines.append(f"delivery limit of {name}: {shown}; hare needs none")
    return lines


def broker_json(facts: Sequence[SubscriberFacts]) -> dict[str, Any]:
    version = facts[0].broker_version if facts else None
    limits = {}
    for f in facts:
        if f.queue_type == "quorum" and not f.stream and f.existing_queues is not None:
            for name, limit in (
                (f.queue, f.delivery_limit),
                (dead_queue_name(f.queue), f.dead_delivery_limit),
            ):
                limits[name] = {"limit": limit, "source": f.limit_sources.get(name), "needed": None}
    return {"broker_version": format_version(version), "delivery_limits": limits}


def findings_output(console: Console, findings: Sequence[Finding]) -> None:
    """Each finding on one line with its fix under it; a summary line at the end."""
    for f in findings:
        style = "red" if f.level == "fail" else "yellow"
        console.print(f"[{style}]{f.level.upper()}[/] {f.check} {f.queue}: {f.problem}")
        console.print(f"     fix: {f.fix}", highlight=False)
    failed = sum(1 for f in findings if f.level == "fail")
    summary = f"{len(CHECKS)} checks, {failed} failed, {len(findings) - failed} warnings"
    console.print(summary if findings else f"{len(CHECKS)} checks, all passed")


def findings_json(findings: Sequence[Finding]) -> dict[str, Any]:
    return {
        "checks": list(CHECKS),
        "findings": [dataclasses.asdict(f) for f in findings],
        "failed": sum(1 for f in findings if f.level == "fail"),
    }
