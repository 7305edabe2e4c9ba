"""The dedup store's own Redis connection (``RedisLink`` on a ``RespWire``) against the real
Redis: pipelined callers get their own replies, a caller that gives up or an error reply
leaves the connection in step, a stalled Redis fails the waiting calls by their deadline, and
redis-py's handshake (password, ``SELECT``, ``unix://``, TLS, RESP3) still opens the
connection."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from unittest.mock import ANY

import pytest
import trustme
from redis.asyncio import ConnectionPool, Redis

from faststream_hare import HareDedupError
from faststream_hare._internal.redis_wire import RedisReplyError
from faststream_hare.dedup import RedisDedupStore
from faststream_hare.dedup.redis_link import RedisLink
from tests.support.fault_proxy import LoseFirstReplies
from tests.support.rabbit_admin import REDIS_URL
from tests.support.redis_server import ThrowawayRedis, free_port

pytestmark = pytest.mark.redis


@pytest.fixture
async def link() -> AsyncIterator[RedisLink]:
    pool = ConnectionPool.from_url(REDIS_URL, decode_responses=True)
    own = RedisLink(pool, timeout_s=2)
    yield own
    await own.aclose()
    await pool.aclose()


async def test_concurrent_calls_share_one_connection_and_each_gets_its_own_replies(
    link: RedisLink,
) -> None:
    replies = await asyncio.gather(
        *(link.execute("ECHO", f"v{n}") for n in range(300)),
        *(link.execute_many([("ECHO", f"a{n}"), ("ECHO", f"b{n}")]) for n in range(100)),
    )
    assert replies[:300] == [f"v{n}" for n in range(300)]
    assert replies[300:] == [[f"a{n}", f"b{n}"] for n in range(100)]
    ids = await asyncio.gather(*(link.execute("CLIENT", "ID") for _ in range(20)))
    assert len(set(ids)) == 1, "one connection for every caller"


async def test_a_caller_that_gives_up_leaves_the_connection_in_step(link: RedisLink) -> None:
    own_id = await link.execute("CLIENT", "ID")
    empty = f"hare-test-{uuid.uuid4().hex}"
    waiting = asyncio.create_task(link.execute("BLPOP", empty, "0.3"))  # blocks this socket
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # BLPOP's nil comes first and is dropped; the next reply is this caller's
    assert await link.execute("ECHO", "after") == "after"
    assert await link.execute("CLIENT", "ID") == own_id


async def test_an_error_reply_raises_after_the_batch_and_keeps_the_connection(
    link: RedisLink,
) -> None:
    own_id = await link.execute("CLIENT", "ID")
    key = f"hare-test-{uuid.uuid4().hex}"
    try:
        with pytest.raises(RedisReplyError, match="not an integer"):
            await link.execute_many([("SET", key, "text"), ("INCR", key), ("APPEND", key, "!")])
        assert await link.execute("GET", key) == "text!", "the commands after the error ran"
        assert await link.execute("CLIENT", "ID") == own_id
    finally:
        await link.execute("DEL", key)


async def test_a_silent_server_fails_every_waiting_call_by_its_deadline() -> None:
    """It accepts connections and never answers, so redis-py's handshake never ends: every
    caller (one connecting, the others waiting for that connect) fails by its deadline."""
    accepted: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = ConnectionPool.from_url(f"redis://127.0.0.1:{port}/0", decode_responses=True)
    silent = RedisLink(pool, timeout_s=0.3)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcomes = await asyncio.gather(
            *(silent.execute("PING") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
        assert "no reply from Redis within 0.3 s" in str(outcomes[0])
        assert 0.25 < loop.time() - started < 2
    finally:
        await silent.aclose()
        await pool.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_stalled_connection_fails_its_calls_by_their_deadline_and_is_replaced() -> None:
    """Connected, then Redis stops answering: one timer watches the earliest deadline, every
    waiting call fails, and the next call runs on a new connection."""
    async with LoseFirstReplies() as proxy:
        pool = ConnectionPool.from_url(f"redis://127.0.0.1:{proxy.port}/0", decode_responses=True)
        stalled = RedisLink(pool, timeout_s=0.3)
        key = f"hare-test-{uuid.uuid4().hex}"
        try:
            assert await stalled.execute("PING") == "PONG"  # connected, handshake done
            loop = asyncio.get_running_loop()
            started = loop.time()
            outcomes = await asyncio.gather(
                *(stalled.execute("SET", f"{key}:{n}", "v", "PX", 60_000) for n in range(5)),
                return_exceptions=True,
            )
            assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes
            assert "no reply from Redis within 0.3 s" in str(outcomes[0])
            assert 0.25 < loop.time() - started < 2
            assert proxy.triggered
            assert await stalled.execute("SET", key, "v", "PX", 60_000) == "OK"
            assert proxy.connections == 2, "a timed-out connection is not used again"
        finally:
            await stalled.aclose()
            await pool.aclose()


async def test_closing_the_link_lets_the_calls_in_flight_finish(link: RedisLink) -> None:
    empty = f"hare-test-{uuid.uuid4().hex}"
    waiting = asyncio.create_task(link.execute("BLPOP", empty, "0.2"))
    await asyncio.sleep(0.05)
    await link.aclose()
    assert await waiting is None


@dataclass
class PrivateRedis:
    """A Redis of this module's own: a password, a unix socket and a TLS port."""

    server: ThrowawayRedis
    tls_port: int

    def url(self, via: str) -> str:
        """A URL to database 3 over ``via``: tcp, unix, tls or resp3 (tcp, protocol 3)."""
        directory, port = self.server.directory, self.server.port
        return {
            "tcp": f"redis://:s3cret-pw@127.0.0.1:{port}/3",
            "unix": f"unix://:s3cret-pw@{directory / 'redis.sock'}?db=3",
            "tls": f"rediss://:s3cret-pw@127.0.0.1:{self.tls_port}/3"
            f"?ssl_ca_certs={directory / 'ca.pem'}",
            "resp3": f"redis://:s3cret-pw@127.0.0.1:{port}/3?protocol=3",
        }[via]


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/setup-services.sh installs it)")
    directory = tmp_path_factory.mktemp("redis")
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(directory / "ca.pem"))
    issued = authority.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
    issued.private_key_pem.write_to_path(str(directory / "server.key"))
    tls_port = free_port()
    server = ThrowawayRedis(
        directory,
        *("--unixsocket", str(directory / "redis.sock")),
        *("--tls-port", str(tls_port), "--tls-auth-clients", "no"),
        *("--tls-cert-file", str(directory / "server.pem")),
        *("--tls-key-file", str(directory / "server.key")),
        *("--tls-ca-cert-file", str(directory / "ca.pem")),
        password="s3cret-pw",
    )
    server.start()
    try:
        deadline = time.monotonic() + 10
        while not server.answers():
            assert time.monotonic() < deadline, "the private Redis did not start"
            time.sleep(0.05)
        yield PrivateRedis(server, tls_port)
    finally:
        server.stop()


@pytest.mark.parametrize("via", ["tcp", "unix", "tls", "resp3"])
async def test_redis_py_still_opens_the_connection_with_password_and_database(
    private_redis: PrivateRedis, via: str
) -> None:
    store = RedisDedupStore(private_redis.url(via), name=f"t{uuid.uuid4().hex[:8]}")
    admin = Redis.from_url(private_redis.url("tcp"), decode_responses=True)
    try:
        claim = await store.claim("a", 60_000)
        assert claim is not None
        assert await admin.get(claim.key) == claim.token, "the claim is in database 3"
        assert await store.claim("a", 60_000) is None
        assert await store.claim_many(["a", "b"], 60_000) == [None, ANY]
        await store.release(claim)
        assert await admin.exists(claim.key) == 0
    finally:
        await store.aclose()
        await admin.flushdb()
        await admin.aclose()


async def test_a_wrong_password_is_a_dedup_error_without_the_password(
    private_redis: PrivateRedis,
) -> None:
    port = private_redis.server.port
    store = RedisDedupStore(f"redis://:wrong-pw@127.0.0.1:{port}/0")
    try:
        with pytest.raises(HareDedupError, match="could not claim a key") as caught:
            await store.claim("a", 60_000)
        assert "wrong-pw" not in str(caught.value)
    finally:
        await store.aclose()
