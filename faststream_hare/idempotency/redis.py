"""The Redis idempotency store: one view of leases and done markers for every process.

Built on the Redis dedup store (its client, link, masking and release); the scripts run by
``EVALSHA``. Per key there are two
entries, ``<prefix>{<key>}:lease`` and ``<prefix>{<key>}:done`` (one hash slot, so the scripts
also run on a Redis Cluster). ``acquire`` is one Lua script — "done?" then ``SET NX PX`` —
atomic on the server; ``mark_done`` sets the done marker and drops the lease in one script;
``release`` is the dedup store's token-checked delete.
"""

from __future__ import annotations

import logging
import uuid

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.dedup.redis import DEFAULT_TIMEOUT_MS, RELEASE, RedisDedupStore
from faststream_hare.dedup.redis_link import Script
from faststream_hare.dedup.store import Claim
from faststream_hare.errors import HareDedupError
from faststream_hare.idempotency.store import Seen

logger = logging.getLogger("faststream_hare.dedup")

#: Key prefix of every hare idempotency entry in Redis.
KEY_PREFIX = "hare:idem:"
LEASE_SUFFIX = ":lease"
DONE_SUFFIX = ":done"

ACQUIRE = Script("""
if redis.call('exists', KEYS[2]) == 1 then return 2 end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
""")
MARK_DONE = Script("""
redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return 1
""")


class RedisIdempotencyStore(RedisDedupStore):
    """Idempotency entries under ``hare:idem:[<name>:]``; an unreachable Redis raises
    ``HareDedupError`` within ``timeout_ms`` (the message then goes back to its queue)."""

    def __init__(self, url: str, *, name: str = "", timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        super().__init__(url, name=name, timeout_ms=timeout_ms)
        self.prefix = f"{KEY_PREFIX}{name}:" if name else KEY_PREFIX

    def __repr__(self) -> str:
        return f"RedisIdempotencyStore({mask_url(self.url)!r}, name={self.name!r})"

    async def acquire(self, key: str, lease_ms: int) -> Claim | Seen:
        """``DONE``, ``BUSY`` or a lease, decided atomically on the server.

        A lease whose reply never came (a broken connection, a timeout, a cancelled caller)
        may be held in Redis by nobody: it is remembered, and when this process finds the
        key ``BUSY`` later, it drops that lease (token-checked) instead of waiting it out.
        """
        token = uuid.uuid4().hex
        base = f"{self.prefix}{{{key}}}"
        lease_key, done_key = base + LEASE_SUFFIX, base + DONE_SUFFIX
        try:
            reply = await self._link().run_script(ACQUIRE, [lease_key, done_key], [token, lease_ms])
        except BaseException as exc:
            self._uncertain.remember(lease_key, token)
            if not isinstance(exc, Exception):
                raise
            raise self._unreachable(("lease a key", ""), exc) from exc
        if reply == 1:
            self._uncertain.forget(lease_key)
            return Claim(lease_key, token)
        if reply == 2:
            return Seen.DONE
        if await self._drop_stale(lease_key):
            return await self.acquire(key, lease_ms)
        return Seen.BUSY

    async def _drop_stale(self, lease_key: str) -> bool:
        """``lease_key`` is taken: by one of our own leases of unknown outcome? Then delete it
        (token-checked: never another consumer's lease) and say so.

        Not sent again on a broken connection: a resent delete that found its first run had
        already deleted would answer "not ours". The error sends the message back to its
        queue, and the tokens stay remembered for the next acquire.
        """
        tokens = self._uncertain.take(lease_key)
        for token in reversed(tokens):  # the newest attempt first
            try:
                removed = await self._link().run_script(RELEASE, [lease_key], [token])
            except Exception as exc:
                self._uncertain.remember(lease_key, *tokens)
                raise self._unreachable(("lease a key", ""), exc) from exc
            if removed:
                logger.info(
                    "Removed a stale lease of '%s' left by an unanswered request", lease_key
                )
                return True
        return False

    async def mark_done(self, lease: Claim, period_ms: int) -> None:
        """Set the done marker for ``period_ms`` and drop the lease if it is still ours."""
        done_key = lease.key.removesuffix(LEASE_SUFFIX) + DONE_SUFFIX
        try:
            await self._link().run_script(
                MARK_DONE,
                [lease.key, done_key],
                [str(lease.token), period_ms],
                idempotent=True,  # run twice, it sets the marker twice
            )
        except Exception as exc:
            raise self._unreachable(("mark a key done", ""), exc) from exc

    def _unreachable(self, what: tuple[str, str], exc: Exception) -> HareDedupError:
        action = what[0]
        reason = mask_text(str(exc)) or type(exc).__name__
        msg = (
            f"The idempotency store {mask_url(self.url)} could not {action} "
            f"({type(exc).__name__}: {reason}); the message is not handled unchecked."
        )
        return HareDedupError(msg)
