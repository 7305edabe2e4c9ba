"""What each ``hare`` command does with its parsed arguments (parsing lives in ``cli.py``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from faststream_hare.dead_letters import check_count, parse_rate, parse_wheres
from faststream_hare.errors import HareConfigError, QueueNotFoundError
from faststream_hare.ops import dead_letters, render
from faststream_hare.ops.dead_letters import Progress as ProgressCallback
from faststream_hare.ops.dead_letters import ReplayStoppedError
from faststream_hare.ops.doctor import diagnose
from faststream_hare.ops.doctor_facts import gather_facts
from faststream_hare.ops.selection import group_dead
from faststream_hare.ops.status import gather_status
from faststream_hare.ops.target import load_broker, resolve_target
from faststream_hare.ops.topology_text import describe_topology
from faststream_hare.outbox import commands as outbox_commands
from faststream_hare.outbox.found import gather_backlogs

#: Replays and purges that read at least this many messages show a progress bar on a terminal.
PROGRESS_FROM = 100


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit code."""
    if args.command == "topology":
        print(describe_topology(load_broker(args.app)))
        return 0
    if args.command == "replay":
        url = resolve_target(args.app, args.url).url
        report = asyncio.run(dead_letters.replay_dead(url, args.queue, count=max(args.count, 0)))
        print(f"moved {report.moved} message(s) from {args.queue}.dead to {args.queue}")
        return 0
    if args.command == "status":
        return _status(args)
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "console":
        return _console(args)
    if args.command == "outbox":
        return outbox_commands.run(args, load_broker(args.app))
    return _dead(args)


def _emit(args: argparse.Namespace, data: Any, table: Any) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        _console_out().print(table)


def _console_out() -> Console:
    """The terminal's width on a terminal; wide enough for long queue names in a pipe."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def _status(args: argparse.Namespace) -> int:
    if args.app is None and not args.queue:
        msg = "hare status needs an APP (module:attr) or --url with --queue Q."
        raise HareConfigError(msg)
    target = resolve_target(args.app, args.url)
    statuses = asyncio.run(gather_status(target, queues=tuple(args.queue), mgmt_url=args.mgmt_url))
    backlogs = asyncio.run(gather_backlogs(target.broker))
    data = render.status_json(statuses) + [{"outbox": b.as_dict()} for b in backlogs]
    _emit(args, data, render.status_table(statuses))
    if backlogs and not args.json:
        _console_out().print(outbox_commands.backlog_table(backlogs))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    target = resolve_target(args.app, args.url)
    assert target.broker is not None
    facts, notes = asyncio.run(gather_facts(target.broker, target.url, mgmt_url=args.mgmt_url))
    findings = notes + diagnose(facts, deep_queue=args.deep)
    if args.json:
        print(json.dumps(render.findings_json(findings) | render.broker_json(facts), indent=2))
    else:
        out = _console_out()
        for line in render.broker_lines(facts):
            out.print(line, highlight=False)
        render.findings_output(out, findings)
    return 1 if any(f.level == "fail" for f in findings) else 0


def _dead(args: argparse.Namespace) -> int:
    url = resolve_target(args.app, args.url).url
    if args.dead_command == "list":
        letters = asyncio.run(
            dead_letters.list_dead(url, args.queue, limit=args.limit, mgmt_url=args.mgmt_url)
        )
        if args.group_by == "none":
            _emit(args, render.letters_json(letters), render.letters_table(args.queue, letters))
        else:
            groups = group_dead(letters, args.group_by)
            _emit(
                args,
                render.groups_json(groups),
                render.groups_table(args.queue, groups, args.group_by),
            )
        return 0
    if args.dead_command == "export":
        return _export(args, url)
    _check_selection(args)
    if not (args.yes or args.dry_run):
        raise HareConfigError(CONFIRM[args.dead_command])
    return _move(args, url)


#: Why ``hare dead replay|purge`` needs ``--yes``: each changes what is in ``Q.dead``.
CONFIRM = {
    "replay": (
        "hare dead replay sends messages back to Q to be handled again; "
        "add --yes (or try --dry-run first)."
    ),
    "purge": "hare dead purge deletes messages for good; add --yes (or try --dry-run first).",
}


def _check_selection(args: argparse.Namespace) -> None:
    """A wrong --where, --count or --rate is named before --yes is asked for."""
    parse_wheres(args.where)
    check_count(args.count)
    parse_rate(getattr(args, "rate", None))


def _export(args: argparse.Namespace, url: str) -> int:
    def export(out: TextIO) -> int:
        return asyncio.run(
            dead_letters.export_dead(url, args.queue, out, limit=args.limit, mgmt_url=args.mgmt_url)
        )

    if args.output is None:
        count = export(sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            count = export(out)
    print(f"exported {count} message(s) from {args.queue}.dead", file=sys.stderr)
    return 0


def _move(args: argparse.Namespace, url: str) -> int:
    replay = args.dead_command == "replay"
    options: dict[str, Any] = {
        "where": args.where,
        "count": args.count,
        "dry_run": args.dry_run,
        "sample": args.sample,
        "mgmt_url": args.mgmt_url,
    }
    if replay:
        options["rate"] = args.rate
    with _progress(enabled=not args.json) as on_progress:
        options["on_progress"] = on_progress
        try:
            if replay:
                report = asyncio.run(dead_letters.replay_dead(url, args.queue, **options))
            else:
                report = asyncio.run(dead_letters.purge_dead(url, args.queue, **options))
        except ReplayStoppedError as stopped:
            if isinstance(stopped.__cause__, QueueNotFoundError):
                raise stopped.__cause__ from None  # a wrong name: one sentence, status 2
            _print_report(args, stopped.report, "moved")
            print(f"hare: {stopped}", file=sys.stderr)
            return 1
    _print_report(args, report, "moved" if replay else "purged")
    return 0


def _print_report(args: argparse.Namespace, report: dead_letters.OpsReport, verb: str) -> None:
    if args.json:
        print(json.dumps(render.report_json(report), indent=2))
    else:
        print("\n".join(render.report_lines(report, verb)))


@contextlib.contextmanager
def _progress(*, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr for long runs on a terminal; ``None`` otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("reading Q.dead"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("scan", total=None)

    def update(done: int, total: int) -> None:
        if total >= PROGRESS_FROM:
            bar.update(task, completed=done, total=total)
            if not bar.live.is_started:
                bar.start()

    try:
        yield update
    finally:
        bar.stop()


def _console(args: argparse.Namespace) -> int:
    # The console's dependencies are an optional extra (faststream-hare[console]).
    try:
        import uvicorn

        from faststream_hare.ops.console import create_console
    except ImportError as exc:
        msg = (
            f"hare console needs the console extra ({exc.name} is missing); "
            "pip install 'faststream-hare[console]'."
        )
        raise HareConfigError(msg) from None
    if args.app is None and not args.queue:
        msg = "hare console needs an APP (module:attr) or --url with --queue Q."
        raise HareConfigError(msg)
    if (args.certfile is None) != (args.keyfile is None):
        msg = "HTTPS needs both --certfile and --keyfile (PEM files); give both or neither."
        raise HareConfigError(msg)
    if args.no_auth and args.token:
        msg = "--no-auth and a token (--token or HARE_CONSOLE_TOKEN) contradict; drop one."
        raise HareConfigError(msg)
    token = None if args.no_auth else (args.token or secrets.token_urlsafe(24))
    target = resolve_target(args.app, args.url)
    app = create_console(
        target,
        queues=tuple(args.queue),
        token=token,
        auth="none" if args.no_auth else None,
        allowed_hosts=args.allowed_host,
        bound=args.host,
        trust_forwarded_proto=args.trust_forwarded_proto,
        sample=args.sample,
        mgmt_url=args.mgmt_url,
        timezone=args.timezone,
    )
    print(_console_banner(args, None if args.token else token), file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        proxy_headers=False,  # X-Forwarded-* only with --trust-forwarded-proto, by the console
        server_header=False,
        timeout_graceful_shutdown=3,  # a browser's idle TLS connection would hold Ctrl-C up
        access_log=False,  # addresses may carry ?token= on a first visit
        log_level="warning",
    )
    return 0


def _console_banner(args: argparse.Namespace, generated: str | None) -> str:
    """The start-up line: the address, with a generated token (shown this once only)."""
    scheme = "https" if args.certfile else "http"
    host = f"[{args.host}]" if ":" in args.host else args.host
    address = f"{scheme}://{host}:{args.port}/"
    if args.no_auth:
        return f"hare console on {address} (no authentication: loopback development run)"
    if generated is not None:
        return f"hare console on {address}?token={generated} (open it once; not shown again)"
    return f"hare console on {address} (open it once with ?token=<your token>)"
