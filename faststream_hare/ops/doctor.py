"""``hare doctor``'s rules: pure functions from observed facts to findings.

Each finding is one sentence saying what is wrong and one saying how to fix it. The facts are
gathered by ``ops/doctor_facts.py``; keeping the rules pure lets every one be tested without
a broker, and an integration test provokes each on the real one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from faststream_hare.contract.names import dead_queue_name
from faststream_hare.topology.delivery_limit import (
    ARGUMENT,
    RESERVED_RETURNS,
    format_version,
    policy_command,
)

Level = Literal["fail", "warn"]
ONE_DAY_MS = 86_400_000
#: A queue this deep counts as a backlog for the prefetch/pool rule (``--deep``).
DEFAULT_DEEP_QUEUE = 1_000
CHECKS = (
    "stream_plugin",
    "topology",
    "return_path",
    "quorum_delivery_limit",
    "dead_ttl",
    "delay_above_dead_ttl",
    "prefetch_single_worker",
    "no_consumer",
)


@dataclass(frozen=True)
class Finding:
    """One problem: which check, which queue, what is wrong, the fix."""

    check: str
    queue: str
    problem: str
    fix: str
    level: Level = "fail"


@dataclass(frozen=True)
class SubscriberFacts:
    """What the doctor knows of one hare subscriber; ``None`` = could not be observed."""

    queue: str
    stream: bool = False
    queue_type: str = "classic"
    retry_limit: int = 15
    prefetch_count: int = 1
    max_workers: int = 1
    delays_ms: tuple[int, ...] = ()
    dead_ttl_ms: int | None = None
    planned_queues: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    existing_queues: Mapping[str, Mapping[str, Any] | None] | None = None
    planned_exchanges: Mapping[str, str] = field(default_factory=dict)
    existing_exchanges: Mapping[str, str | None] | None = None
    #: Exchange ``Q`` → queue ``Q`` bindings (source, queue, routing key): bound or not.
    return_bindings: Mapping[tuple[str, str, str], bool] | None = None
    #: The delivery limit in force on a quorum ``Q`` (``None``: none, or not observed).
    delivery_limit: int | None = None
    #: The same for a quorum ``Q.dead``.
    dead_delivery_limit: int | None = None
    #: Where each limit comes from (``argument``, ``policy``, ``default``), by queue name.
    limit_sources: Mapping[str, str] = field(default_factory=dict)
    broker_version: tuple[int, ...] | None = None
    ready: int | None = None
    consumers: int | None = None
    stream_reachable: bool | None = None
    stream_endpoint: str = ""


def diagnose(
    facts: Iterable[SubscriberFacts], *, deep_queue: int = DEFAULT_DEEP_QUEUE
) -> list[Finding]:
    """Every finding of every rule, queue by queue."""
    findings: list[Finding] = []
    for f in facts:
        findings += stream_plugin(f)
        findings += topology(f)
        findings += return_path(f)
        findings += quorum_delivery_limit(f)
        findings += dead_ttl(f)
        findings += prefetch_single_worker(f, deep_queue)
        findings += no_consumer(f)
    return findings


def stream_plugin(f: SubscriberFacts) -> list[Finding]:
    if not f.stream or f.stream_reachable is not False:
        return []
    return [
        Finding(
            "stream_plugin",
            f.queue,
            f"stream subscriber '{f.queue}' needs the stream protocol, but nothing answers at "
            f"{f.stream_endpoint}",
            "run `rabbitmq-plugins enable rabbitmq_stream` on the broker, or set "
            "HARE_MQ_STREAM_URL to where it listens",
        )
    ]


def topology(f: SubscriberFacts) -> list[Finding]:
    """Existing queues/exchanges whose arguments differ from the plan (a 406 at startup)."""
    findings: list[Finding] = []
    for name, wanted in f.planned_queues.items():
        found = (f.existing_queues or {}).get(name)
        if found is None:
            continue
        for arg in sorted(set(wanted) | set(found)):
            want, have = wanted.get(arg), found.get(arg)
            if want == have or (arg == "x-queue-type" and want is None and have == "classic"):
                continue
            if arg == ARGUMENT and have is None:
                continue  # used as it is: the quorum_delivery_limit check says what it means
            findings.append(_argument_finding(f, name, arg, have, want))
    for name, wanted_type in f.planned_exchanges.items():
        have_type = (f.existing_exchanges or {}).get(name)
        if have_type is not None and have_type != wanted_type:
            findings.append(
                Finding(
                    "topology",
                    f.queue,
                    f"exchange '{name}' is a {have_type} exchange, hare plans {wanted_type}",
                    f"delete exchange '{name}' (it is re-declared at startup) or set "
                    f"HARE_MQ_EXCHANGE_TYPE={have_type}",
                )
            )
    return findings


def return_path(f: SubscriberFacts) -> list[Finding]:
    """Exchange ``Q`` and its binding to queue ``Q``: the only way back from a delay queue.

    A classic delay queue dead-letters an expired copy at most once; with nowhere to route
    it, the copy is dropped (a quorum one with at-least-once dead-lettering keeps it).
    """
    if f.stream or f.existing_exchanges is None:
        return []
    fix = "restart the app: hare declares its topology at startup,"
    if f.queue in f.existing_exchanges and f.existing_exchanges[f.queue] is None:
        return [
            Finding(
                "return_path",
                f.queue,
                f"exchange '{f.queue}' is missing: retry copies expiring from the delay queues "
                "have nowhere to go back to, and classic delay queues drop them",
                f"{fix} exchange '{f.queue}' and the binding of queue '{f.queue}' to it",
            )
        ]
    return [
        Finding(
            "return_path",
            f.queue,
            f"queue '{queue}' is not bound to exchange '{source}' with routing key "
            f"'{routing_key}': retry copies expiring from the delay queues are dropped "
            "(classic) or held (quorum) instead of coming back",
            f"{fix} this binding included",
        )
        for (source, queue, routing_key), bound in (f.return_bindings or {}).items()
        if not bound
    ]


def _argument_finding(f: SubscriberFacts, name: str, arg: str, have: Any, want: Any) -> Finding:
    problem = f"queue '{name}' has {arg}={have!r}, hare plans {want!r}"
    if name == dead_queue_name(f.queue) and arg == "x-message-ttl":
        return Finding(
            "topology",
            f.queue,
            f"{problem}; hare uses it as it is",
            f"set HARE_MQ_MESSAGE_TTL_MS={have} to match, or delete '{name}' when it is empty",
            "warn",
        )
    return Finding(
        "topology",
        f.queue,
        f"{problem}; startup would fail with a 406",
        f"delete queue '{name}' (after moving its messages) so hare re-declares it, or change "
        "the subscriber's options to match",
    )


def delivery_limit_fix(queue: str) -> str:
    """How to lift the delivery limit of ``queue`` and its dead queue (doctor and console)."""
    command = policy_command([queue, dead_queue_name(queue)])
    return (
        f"lift it with a policy: {command} (RabbitMQ 4.0 and later; "
        "on 3.x remove the limit), or add delivery-limit to the policy already on the queue"
    )


def quorum_delivery_limit(f: SubscriberFacts) -> list[Finding]:
    """A quorum ``Q`` or ``Q.dead`` whose broker drops a message returned too often.

    hare needs no limit on either. With one in force, hare dead-letters a message it would
    requeue within ``RESERVED_RETURNS`` of it; a limit that small leaves it no room.
    """
    if f.queue_type != "quorum":
        return []
    dead = dead_queue_name(f.queue)
    fix = delivery_limit_fix(f.queue)
    findings = []
    version = format_version(f.broker_version)
    if f.delivery_limit is not None:
        source = f.limit_sources.get(f.queue, "argument")
        room = f.delivery_limit > RESERVED_RETURNS + 1
        problem = (
            f"quorum queue '{f.queue}' drops a message returned more than {f.delivery_limit} "
            f"times ({source}, RabbitMQ {version}); hare needs no limit"
        )
        if room:
            problem += (
                f" and dead-letters a message it would requeue {RESERVED_RETURNS} returns "
                "before it (hare-reason: delivery_limit)"
            )
        findings.append(
            Finding("quorum_delivery_limit", f.queue, problem, fix, "warn" if room else "fail")
        )
    if f.dead_delivery_limit is not None:
        source = f.limit_sources.get(dead, "argument")
        findings.append(
            Finding(
                "quorum_delivery_limit",
                f.queue,
                f"quorum queue '{dead}' drops a dead letter returned more than "
                f"{f.dead_delivery_limit} times ({source}, RabbitMQ {version}): tools that "
                "read dead letters by returning them count towards it",
                fix,
                "warn",
            )
        )
    return findings


def dead_ttl(f: SubscriberFacts) -> list[Finding]:
    """A dead queue that forgets within a day, and delays that outlive the dead queue's TTL."""
    if f.dead_ttl_ms is None:
        return []
    findings = []
    if f.dead_ttl_ms < ONE_DAY_MS:
        findings.append(
            Finding(
                "dead_ttl",
                f.queue,
                f"'{dead_queue_name(f.queue)}' drops messages after {f.dead_ttl_ms} ms, "
                "less than a day: nobody will see them",
                "set HARE_MQ_MESSAGE_TTL_MS to a day (86400000) or more",
            )
        )
    longest = max(f.delays_ms, default=0)
    if longest > f.dead_ttl_ms:
        findings.append(
            Finding(
                "delay_above_dead_ttl",
                f.queue,
                f"a retry of '{f.queue}' waits {longest} ms, longer than the dead queue's TTL "
                f"of {f.dead_ttl_ms} ms",
                "shorten delay_in_ms/delay_cascade_in_ms or raise HARE_MQ_MESSAGE_TTL_MS",
            )
        )
    return findings


def prefetch_single_worker(f: SubscriberFacts, deep_queue: int) -> list[Finding]:
    if f.stream or f.prefetch_count != 1 or f.max_workers > 1 or (f.ready or 0) < deep_queue:
        return []
    return [
        Finding(
            "prefetch_single_worker",
            f.queue,
            f"'{f.queue}' has {f.ready} messages waiting for one worker that takes one at a time",
            "raise prefetch_count, or give the subscriber consumer_count=... or auto_scaling=...",
        )
    ]


def no_consumer(f: SubscriberFacts) -> list[Finding]:
    if f.stream or f.consumers != 0 or not f.ready:
        return []
    return [
        Finding(
            "no_consumer",
            f.queue,
            f"'{f.queue}' has {f.ready} messages waiting and no consumer",
            "start the app (faststream run ...) or check why its consumers stopped",
        )
    ]
