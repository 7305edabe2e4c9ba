"""``hare outbox init|relay APP`` and the outbox table of ``hare status``.

The ``hare`` command finds an app's outboxes on its broker (every ``Outbox(broker, ...)``
registers itself there), so the app module is the only configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from faststream_hare.errors import HareConfigError
from faststream_hare.outbox.backlog import Backlog
from faststream_hare.outbox.found import outboxes_of
from faststream_hare.outbox.outbox import Outbox

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker

_APP_HELP = (
    "MODULE:ATTRIBUTE of a FastStream app, a HareBroker, a HareRouter or a FastAPI app with "
    "one (as `faststream run`)"
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hare outbox …``."""
    outbox = sub.add_parser("outbox", help="the transactional outbox on PostgreSQL")
    commands = outbox.add_subparsers(dest="outbox_command", required=True)
    p = commands.add_parser("init", help="create the outbox and inbox tables (safe to repeat)")
    p.add_argument("app", help=_APP_HELP)
    p.add_argument("--print", action="store_true", help="print the SQL instead of running it")
    p = commands.add_parser("relay", help="publish committed outbox rows until stopped")
    p.add_argument("app", help=_APP_HELP)


def run(args: argparse.Namespace, broker: HareBroker) -> int:
    """Run ``hare outbox <command>`` for the app's ``broker``; returns the exit code."""
    outboxes = outboxes_of(broker)
    if not outboxes:
        msg = f"{args.app} has no Outbox; create one with Outbox(broker, dsn=...) in the app."
        raise HareConfigError(msg)
    if args.outbox_command == "init":
        if args.print:
            for outbox in outboxes:
                print(outbox.tables.schema_sql())
            return 0
        for outbox in outboxes:
            asyncio.run(outbox.init_schema())
            names = outbox.tables
            print(f"outbox table {names.outbox} and inbox table {names.inbox} ready")
        return 0
    asyncio.run(_relay(broker, outboxes))
    return 0


async def _relay(broker: HareBroker, outboxes: Sequence[Outbox]) -> None:
    """Connect the broker (no subscriber starts) and relay until SIGINT/SIGTERM; then let
    the batch in flight finish."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await broker.connect()
    try:
        for outbox in outboxes:
            outbox.start_relay()
        names = ", ".join(o.tables.outbox for o in outboxes)
        print(f"hare: relaying outbox {names} (Ctrl+C stops)", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        for outbox in outboxes:
            await outbox.stop()
        relayed = sum(o.relayed for o in outboxes)
        republished = sum(o.republished for o in outboxes)
        with contextlib.suppress(Exception):
            await broker.stop()
        print(
            f"hare: relay stopped; published {relayed} message(s), {republished} of them "
            "possibly again (same message_id)",
            file=sys.stderr,
        )


def backlog_table(backlogs: Sequence[Backlog]) -> Table:
    """``hare status``'s outbox table."""
    table = Table(title="hare outboxes")
    for column in ("table", "waiting", "failing", "oldest age (s)", "relay lag (s)", "problem"):
        table.add_column(column, justify="left" if column in ("table", "problem") else "right")
    for b in backlogs:
        table.add_row(
            b.table,
            str(b.waiting),
            str(b.failing),
            f"{b.oldest_age_s:.1f}",
            f"{b.relay_lag_s:.1f}",
            b.problem or (b.last_error or "")[:60],
        )
    return table
