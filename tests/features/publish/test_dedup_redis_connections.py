"""The Redis dedup store's connections (redis-py's asyncio client under ``RedisLink``) against
the real Redis: a caller that gives up or an error reply leaves no reply behind for the next
caller, redis-py never sends a claim again on its own, a stalled Redis fails the call by its
deadline, and every way to reach Redis works (password, ``SELECT``, ``unix://``, TLS, RESP2
and RESP3)."""

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
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from faststream_hare import HareDedupError
from faststream_hare.dedup import RedisDedupStore
from faststream_hare.dedup.store import Claim
from faststream_hare.errors import RedisConnectionLostError
from faststream_hare.idempotency import Seen
from faststream_hare.idempotency.redis import RedisIdempotencyStore
from tests.support.fault_proxy import LoseFirstReplies
from tests.support.rabbit_admin import REDIS_URL
from tests.support.redis_server import ThrowawayRedis, free_port

pytestmark = pytest.mark.redis


@pytest.fixture
async def store() -> AsyncIterator[RedisDedupStore]:
    named = RedisDedupStore(REDIS_URL, name=f"t{uuid.uuid4().hex[:8]}")
    yield named
    await named.clear()
    await named.aclose()


async def test_a_caller_that_gives_up_leaves_no_reply_for_the_next(store: RedisDedupStore) -> None:
    link = store._link()
    empty = f"hare-test-{uuid.uuid4().hex}"
    waiting = asyncio.create_task(link.execute("BLPOP", empty, "0.3"))  # blocks its connection
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    replies = await asyncio.gather(*(link.execute("ECHO", f"v{n}") for n in range(50)))
    assert replies == [f"v{n}" for n in range(50)]
    await asyncio.sleep(0.35)  # BLPOP's nil would have come by now
    assert await link.execute("ECHO", "after") == "after"


async def test_an_error_reply_raises_after_the_batch(store: RedisDedupStore) -> None:
    link = store._link()
    key = f"hare-test-{uuid.uuid4().hex}"
    try:
        with pytest.raises(ResponseError, match="not an integer"):
            await link.execute_many([("SET", key, "text"), ("INCR", key), ("APPEND", key, "!")])
        assert await link.execute("GET", key) == "text!", "the commands after the error ran"
    finally:
        await link.execute("DEL", key)


async def test_a_claim_is_sent_once_when_its_connection_breaks() -> None:
    """redis-py's own retry is off: the SET whose reply was lost is not sent again as it was
    (it would find its own key taken); the store claims again over it, by script."""
    name = f"t{uuid.uuid4().hex[:8]}"
    async with LoseFirstReplies(cut=True) as proxy:
        broken = RedisDedupStore(f"redis://127.0.0.1:{proxy.port}/0", name=name)
        try:
            with pytest.raises(RedisConnectionLostError, match="before the reply"):
                await broken._link().execute("SET", f"{broken.prefix}x", "t", "NX")
            assert proxy.triggered
            assert proxy.connections == 1, "no resend on a new connection"
            assert await broken.claim("a", 60_000) is not None
        finally:
            await broken.clear()
            await broken.aclose()


async def test_a_stalled_connection_fails_its_call_by_the_deadline_and_is_replaced() -> None:
    async with LoseFirstReplies() as proxy:
        stalled = RedisDedupStore(f"redis://127.0.0.1:{proxy.port}/0", timeout_ms=300)
        link = stalled._link()
        key = f"hare-test-{uuid.uuid4().hex}"
        try:
            assert await link.execute("PING")  # connected, handshake done
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError, match=r"no reply from Redis within 0\.3 s"):
                await link.execute("SET", key, "v", "PX", 60_000)
            assert 0.25 < loop.time() - started < 2
            assert proxy.triggered
            assert await link.execute("SET", key, "v", "PX", 60_000) == "OK"
            assert proxy.connections == 2, "a timed-out connection is not used again"
        finally:
            await link.execute("DEL", key)
            await stalled.aclose()


@dataclass
class PrivateRedis:
    """A Redis of this module's own: a password, a unix socket and a TLS port."""

    server: ThrowawayRedis
    tls_port: int

    def url(self, via: str) -> str:
        """A URL to database 3 over ``via``: tcp, unix, tls, resp2 or resp3 (tcp, with that
        protocol; plain tcp speaks redis-py's default)."""
        directory, port = self.server.directory, self.server.port
        return {
            "tcp": f"redis://:s3cret-pw@127.0.0.1:{port}/3",
            "unix": f"unix://:s3cret-pw@{directory / 'redis.sock'}?db=3",
            "tls": f"rediss://:s3cret-pw@127.0.0.1:{self.tls_port}/3"
            f"?ssl_ca_certs={directory / 'ca.pem'}",
            "resp2": f"redis://:s3cret-pw@127.0.0.1:{port}/3?protocol=2",
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


@pytest.mark.parametrize("via", ["tcp", "unix", "tls", "resp2", "resp3"])
async def test_every_way_to_reach_redis_works_with_password_and_database(
    private_redis: PrivateRedis, via: str
) -> None:
    """Claims, scripts (loaded by their first ``EVAL``) and idempotency leases, whatever the
    transport or the protocol."""
    store = RedisDedupStore(private_redis.url(via), name=f"t{uuid.uuid4().hex[:8]}")
    leases = RedisIdempotencyStore(private_redis.url(via), name=store.name)
    admin = Redis.from_url(private_redis.url("tcp"), decode_responses=True)
    try:
        await admin.script_flush()
        claim = await store.claim("a", 60_000)
        assert claim is not None
        assert await admin.get(claim.key) == claim.token, "the claim is in database 3"
        assert await store.claim("a", 60_000) is None
        assert await store.claim_many(["a", "b"], 60_000) == [None, ANY]
        await store.release(claim)
        assert await admin.exists(claim.key) == 0
        lease = await leases.acquire("k", 60_000)
        assert isinstance(lease, Claim)
        assert await leases.acquire("k", 60_000) is Seen.BUSY
        await leases.mark_done(lease, 60_000)
        assert await leases.acquire("k", 60_000) is Seen.DONE
    finally:
        await store.aclose()
        await leases.aclose()
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
