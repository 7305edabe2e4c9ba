"""Quorum delivery limits: what each RabbitMQ version does, and what hare declares about them.

Measured on 3.10.8 and 4.0.5 (``scripts/measure_delivery_limits.py``; docs/topology.md): every
requeue counts — nack or reject with requeue, ``basic.get`` then nack, a channel or connection
closed with the delivery unacked. 3.10 has no limit unless one is set, and a limit of ``-1``
drops a message at its first return; 4.0 drops (or dead-letters) a message returned more than
20 times unless the limit is set, and ``-1`` lifts it. So what hare declares depends on the
version: nothing on 3.10, ``x-delivery-limit: -1`` on 4.0. A queue's arguments cannot change
once it exists (406); a ``delivery-limit`` policy can, and the lowest of argument and policy
is the one in force.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: ``x-delivery-limit`` that lifts the limit on RabbitMQ 4.0 and later (fatal on 3.x).
UNLIMITED = -1
#: What a quorum queue without argument or policy gets on RabbitMQ 4.0 and later.
DEFAULT_LIMIT_4 = 20
ARGUMENT = "x-delivery-limit"
POLICY_KEY = "delivery-limit"

BrokerVersion = tuple[int, ...]

_NUMBERS = re.compile(r"\d+")


def parse_version(value: object) -> BrokerVersion | None:
    """``"4.0.5"`` (or bytes) → ``(4, 0, 5)``; ``None`` when there is no version to read."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    numbers = _NUMBERS.findall(value.split("+")[0])
    return tuple(int(n) for n in numbers[:3]) or None


def server_version(connection: object) -> BrokerVersion | None:
    """The broker's version from an aio-pika connection's server properties (``None``: unknown)."""
    transport = getattr(connection, "transport", None)
    link = getattr(transport, "connection", None)
    properties = getattr(link, "server_properties", None)
    if not isinstance(properties, Mapping):
        return None
    return parse_version(properties.get("version"))


def format_version(version: BrokerVersion | None) -> str:
    return "unknown" if version is None else ".".join(str(n) for n in version)


def default_limit(version: BrokerVersion | None) -> int | None:
    """The limit of a quorum queue that sets none (``None``: no limit)."""
    return DEFAULT_LIMIT_4 if version is not None and version >= (4,) else None


def unlimited_argument(version: BrokerVersion | None) -> int | None:
    """The ``x-delivery-limit`` hare declares on quorum ``Q``/``Q.dead`` (``None``: none).

    An unknown version declares nothing: on 3.x that is already unlimited, and ``-1`` there
    would drop every requeued message.
    """
    return UNLIMITED if version is not None and version >= (4,) else None


def limit_in_force(version: BrokerVersion | None, argument: object, policy: object) -> int | None:
    """The limit a quorum queue applies (``None``: none), from its argument and policy.

    The lower of the two wins; on 4.0 a negative value means "no limit" and a queue with
    neither gets the default of 20.
    """
    values = [v for v in (argument, policy) if isinstance(v, int) and not isinstance(v, bool)]
    if version is not None and version >= (4,):
        if not values:
            return DEFAULT_LIMIT_4
        limits = [v for v in values if v >= 0]
        return min(limits) if limits else None
    return min(values) if values else None


def limit_of_record(version: BrokerVersion | None, record: Mapping[str, Any]) -> int | None:
    """The limit in force of a queue as the management API describes it (``None``: none, as on
    every classic queue and stream; 4.0's default of 20 is a quorum queue's alone)."""
    if record.get("type", "quorum") != "quorum":
        return None
    reported = record.get("delivery_limit")  # 4.0 reports the one in force
    if isinstance(reported, int) and not isinstance(reported, bool):
        return None if reported < 0 else reported
    argument = (record.get("arguments") or {}).get(ARGUMENT)
    policy = (record.get("effective_policy_definition") or {}).get(POLICY_KEY)
    return limit_in_force(version, argument, policy)


def limit_source(record: Mapping[str, Any]) -> str:
    """Where a queue's limit comes from: ``argument``, ``policy`` or ``default``."""
    policy = (record.get("effective_policy_definition") or {}).get(POLICY_KEY)
    argument = (record.get("arguments") or {}).get(ARGUMENT)
    if policy is not None and argument is not None:
        return "argument and policy"
    if policy is not None:
        return "policy"
    return "argument" if argument is not None else "default"


def policy_command(queues: list[str]) -> str:
    """The ``rabbitmqctl`` line that lifts the limit of ``queues`` on RabbitMQ 4.0."""
    pattern = "^(" + "|".join(re.escape(q) for q in queues) + ")$"
    return (
        f"rabbitmqctl set_policy hare-delivery-limit '{pattern}' "
        f"'{{\"{POLICY_KEY}\": {UNLIMITED}}}' --apply-to queues"
    )


#: Returns hare leaves to what it cannot steer: a channel or a connection lost, a worker stopped.
RESERVED_RETURNS = 5
DELIVERY_COUNT_HEADER = "x-delivery-count"


def requeue_would_near_limit(headers: Mapping[str, Any] | None, limit: int | None) -> bool:
    """True when one more requeue leaves fewer than ``RESERVED_RETURNS`` before ``limit``.

    ``x-delivery-count`` is how often the broker has had the message back (absent: never).
    """
    if limit is None:
        return False
    count = (headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(count, bool) or not isinstance(count, int):
        count = 0
    return count + 1 >= limit - RESERVED_RETURNS
