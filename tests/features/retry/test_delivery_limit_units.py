"""Quorum delivery limits by broker version: what hare declares and what it reports in force."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from faststream_hare.topology.delivery_limit import (
    default_limit,
    limit_in_force,
    limit_of_record,
    limit_source,
    parse_version,
    policy_command,
    server_version,
    unlimited_argument,
)
from faststream_hare.topology.plan import plan_topology

V3, V4 = (3, 10, 8), (4, 0, 5)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"3.10.8", (3, 10, 8)),
        ("4.0.5", (4, 0, 5)),
        ("4.1.0+rc.1", (4, 1, 0)),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_parse_version(raw: object, parsed: tuple[int, ...] | None) -> None:
    assert parse_version(raw) == parsed


def test_server_version_reads_the_connection_properties_and_tolerates_their_absence() -> None:
    link = SimpleNamespace(server_properties={"version": b"4.0.5", "product": b"RabbitMQ"})
    assert server_version(SimpleNamespace(transport=SimpleNamespace(connection=link))) == V4
    assert server_version(SimpleNamespace(transport=None)) is None
    assert server_version(object()) is None


def test_the_lifting_argument_depends_on_the_version() -> None:
    # -1 lifts the limit on 4.0 but drops a message at its first return on 3.10 (measured)
    assert unlimited_argument(V4) == -1
    assert unlimited_argument((4, 1)) == -1
    assert unlimited_argument(V3) is None
    assert unlimited_argument(None) is None
    assert default_limit(V4) == 20
    assert default_limit(V3) is None


@pytest.mark.parametrize(
    ("version", "argument", "policy", "in_force"),
    [
        (V3, None, None, None),
        (V3, 10, None, 10),
        (V3, 10, 2, 2),
        (V3, None, 1000, 1000),
        (V4, None, None, 20),
        (V4, -1, None, None),
        (V4, None, -1, None),
        (V4, 2, -1, 2),
        (V4, 2, 1000, 2),
        (V4, None, 1000, 1000),
        (V4, 10, 2, 2),
    ],
)
def test_the_lower_of_argument_and_policy_is_in_force(
    version: tuple[int, ...], argument: int | None, policy: int | None, in_force: int | None
) -> None:
    assert limit_in_force(version, argument, policy) == in_force


def test_limit_of_a_management_record() -> None:
    assert limit_of_record(V4, {"arguments": {"x-queue-type": "quorum"}}) == 20
    assert limit_of_record(V4, {"arguments": {"x-delivery-limit": -1}}) is None
    assert limit_of_record(V4, {"type": "classic", "arguments": {}}) is None  # no limit there
    assert limit_of_record(V4, {"delivery_limit": 7, "arguments": {}}) == 7
    assert limit_of_record(V4, {"delivery_limit": -1, "arguments": {}}) is None
    policy = {"arguments": {}, "effective_policy_definition": {"delivery-limit": 30}}
    assert limit_of_record(V3, policy) == 30
    assert limit_source(policy) == "policy"
    assert limit_source({"arguments": {"x-delivery-limit": -1}}) == "argument"
    assert limit_source({"arguments": {}}) == "default"


def test_policy_command_names_exactly_the_queues() -> None:
    command = policy_command(["orders", "orders.dead"])
    pattern = "'^(orders|orders\\.dead)$'"
    assert command.startswith(f"rabbitmqctl set_policy hare-delivery-limit {pattern}")
    assert '{"delivery-limit": -1}' in command
    assert command.endswith("--apply-to queues")


def test_quorum_plan_lifts_the_limit_of_the_queues_consumers_read() -> None:
    plan = plan_topology(
        queue="q",
        routing_key="q",
        exchange=None,
        exchange_type="topic",
        queue_type="quorum",
        message_ttl_ms=5_000,
        delivery_limit=-1,
    )
    by_name = {q.name: q.arguments for q in plan.queues}
    assert by_name["q"] == {"x-queue-type": "quorum", "x-delivery-limit": -1}
    assert by_name["q.dead"] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": -1,
        "x-message-ttl": 5_000,
    }
    assert "x-delivery-limit" not in by_name["q.delay"]  # no consumer ever reads it


def test_classic_plan_never_carries_a_delivery_limit() -> None:
    # HareMq declares classic queues with exactly these arguments: no 406 between the two
    plan = plan_topology(
        queue="q", routing_key="q", exchange=None, exchange_type="topic", delivery_limit=-1
    )
    assert all("x-delivery-limit" not in q.arguments for q in plan.queues)
