"""The Redis dedup store: one view of the dedup keys for every process and host.

A claim is ``SET key token NX PX period`` (atomic on the server); a release deletes the key
only while it still holds this claim's token (a script, run by ``EVALSHA``). Every call goes
through ``RedisLink`` (one redis-py connection, nothing resent blindly; a batch is one write).
Needs the ``redis`` package (``pip install 'faststream-hare[redis]'``), imported only when a
Redis store is built.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.dedup.redis_link import RedisLink, Script
from faststream_hare.dedup.store import Claim
from faststream_hare.dedup.uncertain import KeyTurns, UncertainClaims
from faststream_hare.errors import HareConfigError, HareDedupError, RedisConnectionLostError

logger = logging.getLogger("faststream_hare.dedup")

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: Key prefix of every hare dedup entry in Redis.
KEY_PREFIX = "hare:dedup:"
#: Connect/command timeout: an unreachable store fails the publish quickly instead of hanging.
DEFAULT_TIMEOUT_MS = 2_000
#: Claims (and releases) of a batch sent in one round trip at most: a huge batch must not
#: need more than ``timeout_ms`` for one exchange.
CLAIM_CHUNK = 5_000

_CLAIM = ("claim a key", "nothing was published")
_RELEASE_FAILED = (
    "release a key",
    "nothing was published, and the key stays claimed until it expires",
)
_COUNT = ("count its keys", "no count is available")
_PING = ("answer", "the app cannot deduplicate yet")
_CLEAR = ("delete its keys", "some keys may remain")

#: Deletes KEYS[1] only while it holds token ARGV[1] (1 when deleted).
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
RELEASE = Script(RELEASE_SCRIPT)

#: Claims ``KEYS[1]`` for token ``ARGV[1]`` (``PX ARGV[2]`` unless empty) when it is free or
#: holds one of ``ARGV[3..]``: 1 when it was free, ``_TAKEN_OVER`` when it was ours, 0 when
#: another claim holds it. Run twice, it answers the same: the first run left a token of ours.
_CLAIM_OVER = """
local held = redis.call('get', KEYS[1])
local outcome = 1
if held then
  outcome = 0
  for i = 3, #ARGV do
    if held == ARGV[i] then outcome = 2 end
  end
  if outcome == 0 then return 0 end
end
if ARGV[2] == '' then
  redis.call('set', KEYS[1], ARGV[1])
else
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return outcome
"""
CLAIM_OVER = Script(_CLAIM_OVER)
_TAKEN_OVER = 2

#: ``SET NX [PX ARGV[2]]`` of every key, in order, each with the batch's token ``ARGV[1]``
#: plus ``.<hex index>`` (counted from ``ARGV[3]``): a list of 1 (claimed) and 0 (held). One
#: reply for a whole chunk; redis-py reads each reply of a pipeline on its own, which made a
#: batch cost twice the client CPU per key.
_CLAIM_EACH = """
local claimed = {}
for i, key in ipairs(KEYS) do
  local token = ARGV[1] .. '.' .. string.format('%x', ARGV[3] + i - 1)
  local ok
  if ARGV[2] == '' then
    ok = redis.call('set', key, token, 'NX')
  else
    ok = redis.call('set', key, token, 'NX', 'PX', ARGV[2])
  end
  claimed[i] = ok and 1 or 0
end
return claimed
"""
CLAIM_EACH = Script(_CLAIM_EACH)


def check_redis_url(url: object, option: str) -> str:
    """Fail early, naming ``option``, when ``url`` is not a Redis URL or redis is missing."""
    if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
        shown = mask_text(url) if isinstance(url, str) else repr(url)
        msg = (
            f"{option} must be a Redis URL such as 'redis://localhost:6379/0', got {shown!r}; "
            "pass a DedupStore object for any other store."
        )
        raise HareConfigError(msg)
    if importlib.util.find_spec("redis") is None:
        msg = (
            f"{option} needs the redis package, which is not installed; "
            "install it with: pip install 'faststream-hare[redis]'."
        )
        raise HareConfigError(msg)
    return url


class RedisDedupStore:
    """Dedup entries in Redis under ``hare:dedup:[<name>:]``; stores with other names are
    isolated from each other even on one Redis.

    An unreachable Redis raises ``HareDedupError`` within ``timeout_ms`` (never a silent
    duplicate, never an unchecked publish).
    """

    def __init__(self, url: str, *, name: str = "", timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.url = check_redis_url(url, "RedisDedupStore url")
        if not isinstance(name, str) or ":" in name:
            msg = f"name must be a string without ':', got {name!r}."
            raise HareConfigError(msg)
        self.name = name
        self.prefix = f"{KEY_PREFIX}{name}:" if name else KEY_PREFIX
        self.timeout_ms = timeout_ms
        self._client_link: RedisLink | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._uncertain = UncertainClaims()
        self._key_turns = KeyTurns()

    def __repr__(self) -> str:
        return f"RedisDedupStore({mask_url(self.url)!r}, name={self.name!r})"

    async def claim(self, key: str, period_ms: int | None) -> Claim | None:
        """``SET NX`` with the period as ``PX``; ``None`` when another claim holds the key."""
        return await self._claim(key, period_ms, resend=True)

    async def _claim(self, key: str, period_ms: int | None, *, resend: bool) -> Claim | None:
        full_key = self.prefix + key
        if full_key in self._uncertain:  # an earlier attempt may have run: claim over it
            return await self._claim_over(full_key, period_ms)
        try:
            return await self._claim_fresh(full_key, period_ms)
        except RedisConnectionLostError as exc:
            # the connection broke with the SET in flight: it may have run, so it is
            # remembered as ours (uncertain), which the claim made again below takes over
            if resend:
                return await self._claim(key, period_ms, resend=False)
            raise self._unreachable(_CLAIM, exc) from exc

    async def _claim_fresh(self, full_key: str, period_ms: int | None) -> Claim | None:
        """``SET NX`` with a new token, remembered whenever its outcome is unknown;
        ``RedisConnectionLostError`` is left to the caller (it may claim again at once)."""
        token = uuid.uuid4().hex
        try:
            claimed = await self._link().execute(*_set_nx(full_key, token, period_ms))
        except (RedisConnectionLostError, asyncio.CancelledError):
            self._uncertain.remember(full_key, token)  # the SET may have run
            raise
        except Exception as exc:
            self._uncertain.remember(full_key, token)  # it may still run (a stalled Redis)
            raise self._unreachable(_CLAIM, exc) from exc
        return Claim(full_key, token) if claimed else None

    async def _claim_over(self, full_key: str, period_ms: int | None) -> Claim | None:
        """Claim ``full_key``, free or held by one of this store's unanswered attempts, in one
        script, with the newest of their tokens.

        The outcome does not depend on whether an earlier run of this same script went
        through, so it is safe to send again when a connection breaks — unlike a drop then a
        claim, whose drop would answer "not mine" when resent after it had already dropped.
        Concurrent claims of one key in this process take turns: the same token must not win
        twice.
        """
        async with self._key_turns.turn(full_key):
            mine = self._uncertain.tokens(full_key)
            if not mine:  # settled meanwhile by another claim of this key in this process
                try:
                    return await self._claim_fresh(full_key, period_ms)
                except RedisConnectionLostError as exc:
                    raise self._unreachable(_CLAIM, exc) from exc
            token = mine[-1]
            try:
                outcome = await self._link().run_script(
                    CLAIM_OVER, [full_key], [token, _px(period_ms), *mine], idempotent=True
                )
            except Exception as exc:  # the token is still remembered: the next claim uses it
                raise self._unreachable(_CLAIM, exc) from exc
            if not outcome:
                return None  # another publisher's claim: ours stay remembered, they may yet run
            self._uncertain.forget(full_key)
        if outcome == _TAKEN_OVER:
            logger.info(
                "Took over a stale dedup claim of '%s' left by an unanswered request", full_key
            )
        return Claim(full_key, token)

    async def ping(self) -> None:
        """One round trip; ``HareDedupError`` when Redis does not answer (start-up checks)."""
        try:
            await self._link().execute("PING", idempotent=True)
        except Exception as exc:
            raise self._unreachable(_PING, exc) from exc

    async def release(self, claim: Claim) -> None:
        """Delete the key if it still holds this claim's token (a Lua compare-and-delete)."""
        try:
            await self._link().run_script(RELEASE, [claim.key], [str(claim.token)], idempotent=True)
        except Exception as exc:
            self._uncertain.remember(claim.key, str(claim.token))
            raise self._unreachable(_RELEASE_FAILED, exc) from exc
        self._uncertain.forget(claim.key)

    async def claim_many(self, keys: Sequence[str], period_ms: int | None) -> list[Claim | None]:
        """One ``SET NX PX`` per key (``CLAIM_EACH``): one round trip and one reply per
        ``CLAIM_CHUNK`` keys.

        A key repeated in ``keys`` is claimed by its first occurrence only. When a round trip
        fails, every claim of the batch that may have been made is released (by token: never
        another publisher's) before ``HareDedupError`` is raised; the script is never sent
        again as it is.
        """
        base = uuid.uuid4().hex  # one random token per batch, made unique per claim
        claims = [Claim(self.prefix + key, f"{base}.{i:x}") for i, key in enumerate(keys)]
        replies: list[Any] = []
        try:
            for start in range(0, len(claims), CLAIM_CHUNK):
                chunk = [c.key for c in claims[start : start + CLAIM_CHUNK]]
                args = (base, _px(period_ms), start)
                replies += await self._link().run_script(CLAIM_EACH, chunk, args)
        except asyncio.CancelledError:
            for claim in claims:  # the caller left; the SETs may have run
                self._uncertain.remember(claim.key, str(claim.token))
            raise
        except Exception as exc:
            await self._release_after_failure(claims)
            raise self._unreachable(_CLAIM, exc) from exc
        results: list[Claim | None] = []
        for claim, claimed in zip(claims, replies, strict=True):
            if claimed:
                self._uncertain.forget(claim.key)
                results.append(claim)
            elif claim.key in self._uncertain:  # held by an unanswered claim of ours?
                results.append(await self._claim_over(claim.key, period_ms))
            else:
                results.append(None)
        return results

    async def release_many(self, claims: Sequence[Claim]) -> None:
        """The token-checked release of each claim, pipelined: one round trip per chunk
        (``EVAL``: one round trip even when Redis does not hold the script yet)."""
        try:
            for start in range(0, len(claims), CLAIM_CHUNK):
                commands = [
                    ("EVAL", RELEASE_SCRIPT, 1, c.key, str(c.token))
                    for c in claims[start : start + CLAIM_CHUNK]
                ]
                await self._link().execute_many(commands, idempotent=True)
        except Exception as exc:
            raise self._unreachable(_RELEASE_FAILED, exc) from exc

    async def _release_after_failure(self, claims: Sequence[Claim]) -> None:
        """A claim round trip failed after its commands may have run: release them all."""
        try:
            await self.release_many(claims)
        except HareDedupError:
            for claim in claims:  # removed when the same key is claimed again
                self._uncertain.remember(claim.key, str(claim.token))
            logger.warning(
                "%d dedup keys of a failed batch may stay claimed until claimed again",
                len(claims),
            )

    async def count(self) -> int:
        """Number of live entries under this store's prefix (a ``SCAN``: for inspection)."""
        try:
            return sum([len(keys) async for keys in self._scan()])
        except Exception as exc:
            raise self._unreachable(_COUNT, exc) from exc

    async def clear(self) -> int:
        """Delete every entry under this store's prefix; returns how many were deleted."""
        deleted = 0
        try:
            async for keys in self._scan():
                deleted += int(await self._link().execute("DEL", *keys, idempotent=True))
        except Exception as exc:
            raise self._unreachable(_CLEAR, exc) from exc
        return deleted

    async def _scan(self) -> AsyncIterator[list[str]]:
        """The keys under this store's prefix, a page of ``SCAN`` at a time."""
        cursor = 0
        while True:
            cursor, keys = await self._link().execute(
                "SCAN", cursor, "MATCH", f"{self.prefix}*", "COUNT", 1_000, idempotent=True
            )
            if keys:
                yield keys
            if not int(cursor):
                return

    def __len__(self) -> int:
        """Live entries, counted with a short-lived blocking client (tests, diagnostics)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options = {**self._options(), "socket_timeout": self.timeout_ms / 1000}
        client = redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 1), **options)
        try:
            return sum(1 for _ in client.scan_iter(match=f"{self.prefix}*"))
        except Exception as exc:
            raise self._unreachable(_COUNT, exc) from exc
        finally:
            client.close()

    async def aclose(self) -> None:
        """Close the connections; the store reconnects when it is used again."""
        link, self._client_link = self._client_link, None
        if link is not None and self._client_loop is _running_loop():
            await link.aclose()

    def _link(self) -> RedisLink:
        """The client and its link (see ``redis_link``), made on first use in each loop."""
        loop = _running_loop()
        if self._client_link is None or self._client_loop is not loop:
            # a client's connections belong to the loop that opened them
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # no retry by redis-py for anything sent through this client either
            client = Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), **self._options())
            self._client_link = RedisLink(client, timeout_s=self.timeout_ms / 1000)
            self._client_loop = loop
        return self._client_link

    def _options(self) -> dict[str, Any]:
        # no socket timeout for the async client: RedisLink's deadline covers a whole call
        # (redis-py's timeout on a write costs a task per write); the pool checks a connection
        # when it hands it out (one Redis closed is reopened)
        return {
            "socket_connect_timeout": self.timeout_ms / 1000,
            "socket_timeout": None,  # said: redis-py 8 has a default of its own
            "decode_responses": True,
        }

    def _unreachable(self, what: tuple[str, str], exc: Exception) -> HareDedupError:
        action, outcome = what
        reason = mask_text(str(exc)) or type(exc).__name__
        msg = (
            f"The dedup store {mask_url(self.url)} could not {action} "
            f"({type(exc).__name__}: {reason}); {outcome}."
        )
        return HareDedupError(msg)


def _set_nx(key: str, token: str, period_ms: int | None) -> tuple[Any, ...]:
    """``SET key token NX [PX period_ms]``: a claim, atomic on the server."""
    if period_ms is None:
        return ("SET", key, token, "NX")
    return ("SET", key, token, "NX", "PX", period_ms)


def _px(period_ms: int | None) -> int | str:
    """``_CLAIM_OVER``'s period argument: empty for a claim that never expires."""
    return "" if period_ms is None else period_ms


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
