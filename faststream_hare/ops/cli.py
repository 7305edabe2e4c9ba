"""The ``hare`` command: status, dead letters, doctor, console, topology, outbox, replay.

Every command takes the app first, as ``faststream run`` does (``APP`` = ``module:attr`` of a
FastStream app, a HareBroker, a HareRouter, or a FastAPI app that includes one), or ``--url``
instead (with ``--queue`` or the dead-letter commands' ``QUEUE``); ``--json`` prints
machine-readable output.
Exit codes: 0 ok, 1 problems found (doctor findings, a replay that stopped), 2 usage or
connection errors.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from faststream_hare._internal.extras import missing_extra
from faststream_hare._internal.masking import mask_text
from faststream_hare.errors import HareError, HareMissingExtraError
from faststream_hare.ops.selection import GROUP_BY_CHOICES
from faststream_hare.ops.target import load_broker
from faststream_hare.ops.topology_text import describe_topology

#: Why the command cannot run (the ``cli`` extra is not installed), or ``None``.
MISSING_EXTRA: HareMissingExtraError | None = None
try:
    from faststream_hare.ops import commands
    from faststream_hare.outbox import commands as outbox_commands
except ModuleNotFoundError as exc:
    error = missing_extra("The hare command", exc)
    if not isinstance(error, HareMissingExtraError):
        raise
    MISSING_EXTRA = error

__all__ = ("build_parser", "describe_topology", "load_broker", "main")

_APP_HELP = (
    "MODULE:ATTRIBUTE of a FastStream app, a HareBroker, a HareRouter or a FastAPI app that "
    "includes one (as `faststream run`)"
)
_URL_HELP = "AMQP URL (default: the APP's, else HARE_MQ_URL / RABBITMQ_URL)"
_QUEUE_HELP = "the work queue Q (messages are read from Q.dead)"


def _common(parser: argparse.ArgumentParser, *, app: bool = True) -> None:
    if app:
        parser.add_argument("--app", dest="app_option", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=_URL_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _app_and_queue(parser: argparse.ArgumentParser, queue_help: str = _QUEUE_HELP) -> None:
    """``[APP] QUEUE``: the app first, as for every other command, then the work queue."""
    parser.usage = "%(prog)s [options] [APP] QUEUE"
    parser.add_argument("first", metavar="[APP]", help=f"{_APP_HELP}; optional, or --url")
    parser.add_argument("queue", nargs="?", default=None, metavar="QUEUE", help=queue_help)


def _settle_app_and_queue(args: argparse.Namespace) -> None:
    """One positional is the queue; two are APP and queue. ``--app`` still works, noted."""
    if not hasattr(args, "first"):
        return
    if args.queue is None:
        args.app, args.queue = None, args.first
    else:
        args.app = args.first
    option = getattr(args, "app_option", None)
    if option is not None:
        print(
            "hare: --app is deprecated; give the app first, as for status and console: "
            f"hare {args.command} ... {option} {args.queue}",
            file=sys.stderr,
        )
        if args.app is None:
            args.app = option


def _mgmt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mgmt-url",
        default=os.environ.get("HARE_MGMT_URL") or None,
        help="management API (default HARE_MGMT_URL, else http://HOST:15672 of the AMQP URL)",
    )


def _selection(parser: argparse.ArgumentParser) -> None:
    _app_and_queue(parser)
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COND",
        help="exception=TYPE, error~TEXT, message_id=ID or fingerprint=ID (repeat = all must hold)",
    )
    parser.add_argument("--count", type=int, default=None, help="at most this many (default all)")
    parser.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    parser.add_argument("--sample", type=int, default=None, help="read at most N messages")
    _mgmt(parser)
    _common(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every ``hare`` command."""
    parser = argparse.ArgumentParser(prog="hare", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("status", help="depths, consumers, pools and stream offsets")
    p.add_argument("app", nargs="?", default=None, help=_APP_HELP)
    p.add_argument("--queue", action="append", default=[], help="only this queue (repeatable)")
    _mgmt(p)
    _common(p, app=False)

    dead = sub.add_parser("dead", help="look at, replay, purge or export Q.dead")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True)
    p = dead_sub.add_parser("list", help="show dead letters without removing them")
    _app_and_queue(p)
    p.add_argument("--limit", type=int, default=100, help="at most N messages (default 100)")
    p.add_argument("--group-by", choices=GROUP_BY_CHOICES, default="none")
    _mgmt(p)
    _common(p)
    p = dead_sub.add_parser(
        "replay", help="move dead letters back to Q, each copy confirmed (needs --yes)"
    )
    _selection(p)
    p.add_argument("--rate", default=None, help="at most this rate, e.g. 20/s or 600/m")
    p.add_argument("--yes", action="store_true", help="really move them (handled again)")
    p = dead_sub.add_parser("purge", help="delete dead letters (needs --yes)")
    _selection(p)
    p.add_argument("--yes", action="store_true", help="really delete them")
    p = dead_sub.add_parser("export", help="write Q.dead as JSON lines (nothing removed)")
    _app_and_queue(p)
    p.add_argument("--limit", type=int, default=None, help="at most N messages")
    p.add_argument("--output", "-o", default=None, help="a file (default: standard output)")
    _mgmt(p)
    _common(p)

    p = sub.add_parser("doctor", help="check an app's setup against the broker")
    p.add_argument("app", help=_APP_HELP)
    _mgmt(p)
    p.add_argument("--deep", type=int, default=1000, help="backlog size that counts as deep")
    _common(p, app=False)

    p = sub.add_parser("console", help="the dead-letter web console")
    p.add_argument("app", nargs="?", default=None, help=_APP_HELP)
    p.add_argument("--queue", action="append", default=[], help="with --url: a queue to show")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument(
        "--token",
        default=os.environ.get("HARE_CONSOLE_TOKEN"),
        help="access token (default HARE_CONSOLE_TOKEN, else a new one, printed once)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="no token: a development run, allowed on a loopback --host only",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a further name browsers may use for the console (repeatable), e.g. a proxy's",
    )
    p.add_argument("--certfile", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--keyfile", default=None, help="the certificate's private key (PEM)")
    p.add_argument(
        "--trust-forwarded-proto",
        action="store_true",
        help="behind an HTTPS proxy: believe its X-Forwarded-Proto (secure cookies, origins)",
    )
    p.add_argument("--sample", type=int, default=1_000, help="a page reads at most N dead letters")
    p.add_argument("--timezone", default=None, help="show times in this zone (default UTC)")
    _mgmt(p)
    p.add_argument("--url", default=None, help=_URL_HELP)

    p = sub.add_parser("topology", help="print the topology hare declares for an app")
    p.add_argument("app", help=_APP_HELP)
    outbox_commands.add_parser(sub)
    p = sub.add_parser("replay", help="(short form) move up to --count dead messages back")
    _app_and_queue(p, "the work queue Q (messages come from Q.dead)")
    p.add_argument("--count", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--url", default=None, help=_URL_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hare`` console script; returns the exit code."""
    if MISSING_EXTRA is not None:
        print(f"hare: {MISSING_EXTRA}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    _settle_app_and_queue(args)
    for noisy in ("aiormq", "aio_pika"):  # their connect retries would print half-sentences
        logging.getLogger(noisy).addHandler(logging.NullHandler())
    try:
        return commands.run(args)
    except HareError as exc:
        print(f"hare: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hare: interrupted; messages not yet taken stay in Q.dead", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
