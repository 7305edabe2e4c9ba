"""The ``hare`` command: look at an app's planned topology and replay dead letters.

``hare topology examples.quickstart:app`` prints what each hare subscriber declares;
``hare replay orders --count 100`` moves dead messages of ``orders`` back to it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from faststream_hare._internal.masking import mask_text
from faststream_hare.broker import HareBroker
from faststream_hare.errors import HareError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hare`` console script."""
    parser = argparse.ArgumentParser(prog="hare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    topology = commands.add_parser("topology", help="print the topology hare declares for an app")
    topology.add_argument("app", help="MODULE:ATTRIBUTE of a FastStream app or a HareBroker")
    replay = commands.add_parser("replay", help="move dead messages back to their queue")
    replay.add_argument("queue", help="the work queue Q (messages come from Q.dead)")
    replay.add_argument("--count", type=int, default=100, help="at most this many (default 100)")
    replay.add_argument("--url", default=None, help="AMQP URL (default: HARE_MQ_URL/RABBITMQ_URL)")
    args = parser.parse_args(argv)
    try:
        if args.command == "topology":
            print(describe_topology(load_broker(args.app)))
            return 0
        moved = asyncio.run(_replay(args.queue, args.count, args.url))
    except (HareError, ImportError, AttributeError) as exc:
        print(f"hare: {mask_text(str(exc))}", file=sys.stderr)
        return 2
    print(f"moved {moved} message(s) from {args.queue}.dead to {args.queue}")
    return 0


def load_broker(path: str) -> HareBroker:
    """Import ``module:attribute`` and return its HareBroker (or the app's)."""
    module_name, _, attribute = path.partition(":")
    target: Any = getattr(importlib.import_module(module_name), attribute or "app")
    brokers = [target] if isinstance(target, HareBroker) else list(getattr(target, "brokers", []))
    broker = getattr(target, "broker", None)
    if broker is not None:
        brokers.append(broker)
    for candidate in brokers:
        if isinstance(candidate, HareBroker):
            return candidate
    msg = f"{path} is neither a HareBroker nor a FastStream app with one"
    raise HareError(msg)


def describe_topology(broker: HareBroker) -> str:
    """One block per hare subscriber: exchanges, queues with arguments, bindings."""
    settings = broker.active_settings
    blocks = []
    for subscriber in sorted(broker.hare_subscribers(), key=lambda s: s.queue_name):
        plan = subscriber.plan(settings)
        lines = [f"{subscriber.queue_name}:"]
        lines += [f"  exchange {e.name} ({e.type}, durable)" for e in plan.exchanges]
        lines += [f"  queue {q.name} {q.arguments or ''}".rstrip() for q in plan.queues]
        lines += [
            f"  bind {b.source} -> {'exchange' if b.to_exchange else 'queue'} {b.destination} "
            f"({b.routing_key})"
            for b in plan.bindings
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) if blocks else "no hare subscribers"


async def _replay(queue: str, count: int, url: str | None) -> int:
    broker = HareBroker(url, logger=None)
    async with broker:
        await broker.connect()
        return await broker.republish_dead_messages(queue, count)
