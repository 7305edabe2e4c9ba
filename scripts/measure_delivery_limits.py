"""Measure what counts towards a quorum queue's delivery limit on one RabbitMQ node.

Run it against each broker version and compare (docs/topology.md has the results):

    python scripts/measure_delivery_limits.py amqp://guest:guest@127.0.0.1:5672/ \
        http://127.0.0.1:15672

Every queue and policy it makes is named ``hare-measure-dl-…`` and deleted at the end.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import aiormq.exceptions

PREFIX = "hare-measure-dl-"
LIMIT = 2
ROUNDS = 5


class Management:
    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        user, password = parsed.username or "guest", parsed.password or "guest"
        self.base = f"{parsed.scheme}://{parsed.hostname}:{parsed.port}/api"
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base}/{path}",
            data=data,
            method=method,
            headers={"Authorization": self.auth, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return json.loads(raw) if raw else None

    def set_policy(self, name: str, pattern: str, definition: dict[str, Any]) -> None:
        body = {"pattern": pattern, "definition": definition, "apply-to": "queues", "priority": 9}
        self.call("PUT", f"policies/%2F/{name}", body)

    def delete_policy(self, name: str) -> None:
        self.call("DELETE", f"policies/%2F/{name}")


async def _declare(
    conn: aio_pika.abc.AbstractConnection, name: str, arguments: dict[str, Any]
) -> None:
    channel = await conn.channel()
    await channel.declare_queue(name, durable=True, arguments=arguments)
    await channel.close()


async def _where(conn: aio_pika.abc.AbstractConnection, name: str) -> tuple[int, int]:
    """(messages in ``name``, messages in its capture queue), waiting for returns to settle."""
    await asyncio.sleep(0.3)
    channel = await conn.channel()
    here = await channel.declare_queue(name, passive=True)
    there = await channel.declare_queue(name + ".captured", durable=True)
    counts = (here.declaration_result.message_count, there.declaration_result.message_count)
    await channel.close()
    return counts


async def _fresh(conn: aio_pika.abc.AbstractConnection, name: str, extra: dict[str, Any]) -> None:
    """Q (quorum, limit ``LIMIT``, dead-lettering to ``Q.captured``) with one message."""
    channel = await conn.channel()
    for queue in (name, name + ".captured"):
        await channel.queue_delete(queue)
    await channel.declare_queue(name + ".captured", durable=True)
    arguments = {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": name + ".captured",
        **extra,
    }
    await channel.declare_queue(name, durable=True, arguments=arguments)
    await channel.default_exchange.publish(aio_pika.Message(b"m", message_id="m1"), name)
    await channel.close()


async def _one_delivery(
    channel: aio_pika.abc.AbstractChannel, name: str
) -> tuple[aio_pika.abc.AbstractQueue, aio_pika.abc.AbstractIncomingMessage, str]:
    queue = await channel.get_queue(name, ensure=False)
    got: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
    tag = await queue.consume(got.put)
    return queue, await asyncio.wait_for(got.get(), 5), tag


async def nack_requeue(conn: aio_pika.abc.AbstractConnection, name: str) -> None:
    channel = await conn.channel()
    await channel.set_qos(1)
    queue, message, tag = await _one_delivery(channel, name)
    await queue.cancel(tag)
    await message.nack(requeue=True)
    await channel.close()


async def reject_requeue(conn: aio_pika.abc.AbstractConnection, name: str) -> None:
    channel = await conn.channel()
    await channel.set_qos(1)
    queue, message, tag = await _one_delivery(channel, name)
    await queue.cancel(tag)
    await message.reject(requeue=True)
    await channel.close()


async def channel_closed(conn: aio_pika.abc.AbstractConnection, name: str) -> None:
    channel = await conn.channel()
    await channel.set_qos(1)
    await _one_delivery(channel, name)
    await channel.close()  # the delivery is still unacked


async def consumer_cancelled(conn: aio_pika.abc.AbstractConnection, name: str) -> None:
    """Cancel the consumer, keep the channel: the delivery stays with it (acked here)."""
    channel = await conn.channel()
    await channel.set_qos(1)
    queue, message, tag = await _one_delivery(channel, name)
    await queue.cancel(tag)
    await asyncio.sleep(0.5)
    try:
        await message.ack()  # a 406 "unknown delivery tag" if the cancel had returned it
        CANCEL_KEEPS_DELIVERY.append(True)
        await channel.close()
    except Exception:
        CANCEL_KEEPS_DELIVERY.append(False)


CANCEL_KEEPS_DELIVERY: list[bool] = []


class _Relay:
    """A loopback TCP relay whose links can be reset, as a dead network would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def reset(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()


async def connection_dropped(url: str, name: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    relay = _Relay(parsed.hostname or "127.0.0.1", parsed.port or 5672)
    port = await relay.start()
    conn = await aio_pika.connect(
        f"amqp://{parsed.username}:{parsed.password}@127.0.0.1:{port}/", reconnect_interval=60
    )
    channel = await conn.channel()
    await channel.set_qos(1)
    await _one_delivery(channel, name)
    relay.reset()  # a TCP reset: no channel.close, no connection.close
    relay.server.close()
    await asyncio.sleep(0.3)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 2)


async def get_nack(conn: aio_pika.abc.AbstractConnection, name: str) -> None:
    channel = await conn.channel()
    queue = await channel.get_queue(name, ensure=False)
    message = await queue.get(timeout=5)
    assert message is not None
    await message.nack(requeue=True)
    await channel.close()


async def count_rounds(
    url: str, conn: aio_pika.abc.AbstractConnection, name: str, action: str
) -> str:
    """How many rounds of ``action`` a message survives under ``x-delivery-limit`` ``LIMIT``."""
    await _fresh(conn, name, {"x-delivery-limit": LIMIT})
    for round_no in range(1, ROUNDS + 1):
        if action == "connection_dropped":
            await connection_dropped(url, name)
        else:
            await ACTIONS[action](conn, name)
        here, captured = await _where(conn, name)
        if here == 0:
            if action == "consumer_cancelled":
                return f"acked after the cancel: {CANCEL_KEEPS_DELIVERY}"
            return f"left Q after {round_no} (dead-lettered: {captured})"
    return f"still in Q after {ROUNDS} (counts: no)"


ACTIONS: dict[str, Callable[[aio_pika.abc.AbstractConnection, str], Awaitable[None]]] = {
    "nack_requeue": nack_requeue,
    "reject_requeue": reject_requeue,
    "channel_closed": channel_closed,
    "consumer_cancelled": consumer_cancelled,
    "get_nack": get_nack,
}


async def x_death_reason(conn: aio_pika.abc.AbstractConnection, name: str) -> str:
    channel = await conn.channel()
    queue = await channel.get_queue(name + ".captured", ensure=False)
    message = await queue.get(timeout=5, fail=False)
    if message is None:
        return "nothing captured"
    await message.ack()
    deaths = (message.headers or {}).get("x-death") or []
    reasons = [d.get("reason") for d in deaths if isinstance(d, dict)]
    first = message.headers.get("x-first-death-reason")
    await channel.close()
    return f"x-death reasons {reasons}, x-first-death-reason {first!r}"


async def redeclare(conn: aio_pika.abc.AbstractConnection, name: str) -> str:
    results = []
    await _declare(conn, name, {"x-queue-type": "quorum", "x-delivery-limit": 5})
    for arguments in (
        {"x-queue-type": "quorum", "x-delivery-limit": 7},
        {"x-queue-type": "quorum"},
    ):
        try:
            await _declare(conn, name, arguments)
            results.append(f"{arguments.get('x-delivery-limit', 'absent')}: accepted")
        except aiormq.exceptions.ChannelPreconditionFailed:
            results.append(f"{arguments.get('x-delivery-limit', 'absent')}: 406")
    channel = await conn.channel()
    await channel.queue_delete(name)
    await _declare(conn, name, {"x-queue-type": "quorum"})
    try:
        await _declare(conn, name, {"x-queue-type": "quorum", "x-delivery-limit": 5})
        results.append("absent then 5: accepted")
    except aiormq.exceptions.ChannelPreconditionFailed:
        results.append("absent then 5: 406")
    channel = await conn.channel()
    await channel.queue_delete(name)
    await channel.close()
    return "; ".join(results)


async def survives(
    conn: aio_pika.abc.AbstractConnection, name: str, extra: dict[str, Any], rounds: int
) -> str:
    """Does one message survive ``rounds`` × (get, nack requeue)? (queue already declared)"""
    channel = await conn.channel()
    await channel.default_exchange.publish(aio_pika.Message(b"m"), name)
    await channel.close()
    for n in range(1, rounds + 1):
        await get_nack(conn, name)
        here, _ = await _where(conn, name)
        if here == 0:
            return f"gone after {n}"
    return f"kept after {rounds}"


async def policies(
    url: str, mgmt: Management, conn: aio_pika.abc.AbstractConnection, version: str
) -> list[str]:
    lines = []
    cases: list[tuple[str, dict[str, Any], int | None, int]] = [
        ("no argument, policy 2", {}, 2, 4),
        ("argument 10, policy 2", {"x-delivery-limit": 10}, 2, 4),
        ("argument 2, policy 10", {"x-delivery-limit": 2}, 10, 4),
        ("no argument, policy 1000", {}, 1000, 25),
        ("no argument, policy -1", {}, -1, 25),
        ("argument 2, policy 1000", {"x-delivery-limit": 2}, 1000, 4),
        ("argument 2, policy -1", {"x-delivery-limit": 2}, -1, 4),
    ]
    for label, arguments, policy, rounds in cases:
        name = f"{PREFIX}policy"
        policy_name = f"{PREFIX}policy"
        channel = await conn.channel()
        await channel.queue_delete(name)
        await channel.queue_delete(name + ".captured")
        await channel.declare_queue(name + ".captured", durable=True)
        await channel.close()
        await _declare(conn, name, {"x-queue-type": "quorum", **arguments})
        if policy is not None:  # set after the queue exists: does it apply to it?
            try:
                mgmt.set_policy(policy_name, f"^{name}$", {"delivery-limit": policy})
            except urllib.error.HTTPError as exc:
                lines.append(f"{label}: policy refused ({exc.code} {exc.read()[:120]!r})")
                continue
            await asyncio.sleep(6)  # the management view of a queue is refreshed every 5 s
        info = mgmt.call("GET", f"queues/%2F/{urllib.parse.quote(name, safe='')}") or {}
        effective = info.get("effective_policy_definition")
        shown = {k: info[k] for k in ("policy", "delivery_limit") if k in info}
        outcome = await survives(conn, name, arguments, rounds)
        lines.append(f"{label}: {outcome} (effective policy {effective}, {shown})")
        mgmt.delete_policy(policy_name)
    channel = await conn.channel()
    await channel.queue_delete(f"{PREFIX}policy")
    await channel.queue_delete(f"{PREFIX}policy.captured")
    await channel.close()
    return lines


async def strategy(conn: aio_pika.abc.AbstractConnection, name: str) -> str:
    results = []
    for label, extra in (
        ("at-least-once + reject-publish", {"x-overflow": "reject-publish"}),
        ("at-least-once + drop-head", {}),
    ):
        try:
            await _fresh(
                conn,
                name,
                {"x-delivery-limit": LIMIT, "x-dead-letter-strategy": "at-least-once", **extra},
            )
            for _ in range(LIMIT + 1):
                await get_nack(conn, name)
            here, captured = await _where(conn, name)
            results.append(f"{label}: accepted, over-limit message in Q={here} captured={captured}")
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            results.append(f"{label}: refused ({exc.args[0][:80]})")
    return "; ".join(results)


async def main(url: str, mgmt_url: str) -> None:
    mgmt = Management(mgmt_url)
    conn = await aio_pika.connect(url)
    props = conn.transport.connection.server_properties if conn.transport else {}
    version = (
        str(props.get("version", b"?"), "utf-8")
        if isinstance(props.get("version"), bytes)
        else str(props.get("version"))
    )
    print(f"RabbitMQ {version} at {url.split('@')[-1]}")
    try:
        for action in (*ACTIONS, "connection_dropped"):
            result = await count_rounds(url, conn, f"{PREFIX}{action}", action)
            print(f"  {action:<20} limit {LIMIT}: {result}")
        print(
            f"  x-death of an over-limit message: {await x_death_reason(conn, PREFIX + 'get_nack')}"
        )
        print(f"  redeclare with another x-delivery-limit: {await redeclare(conn, PREFIX + 're')}")
        print(f"  absent limit, 25 get+nack: {await _absent(conn)}")
        for line in await policies(url, mgmt, conn, version):
            print(f"  policy: {line}")
        print(f"  dead-letter strategy: {await strategy(conn, PREFIX + 'alo')}")
    finally:
        channel = await conn.channel()
        for q in mgmt.call("GET", "queues/%2F") or []:
            if q["name"].startswith(PREFIX):
                await channel.queue_delete(q["name"])
        await conn.close()


async def _absent(conn: aio_pika.abc.AbstractConnection) -> str:
    name = f"{PREFIX}absent"
    await _declare(conn, name, {"x-queue-type": "quorum"})
    return await survives(conn, name, {}, 25)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
