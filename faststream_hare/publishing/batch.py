"""``publish_many``: a batch with its confirms pipelined and one dedup round trip.

Publishing one message at a time waits a round trip to RabbitMQ per message. A batch keeps up
to ``max_in_flight`` confirmed publishes in flight on the publisher's confirm channel (each
one still waits for its own confirm), claims the dedup keys of the whole batch at once before
the first publish, and releases the claims of every message that was not confirmed in one
go after the last, so each message gets exactly what ``publish_message`` would have given it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faststream_hare.contract.encoding import EncodedBody, encode_body
from faststream_hare.dedup.keys import encode_with_key
from faststream_hare.dedup.store import Claim, DedupStore, claim_many, release_many, release_quietly
from faststream_hare.errors import ClaimsNotReleasedError, EncodingFailedError, HareConfigError
from faststream_hare.publishing.results import PublishResult

logger = logging.getLogger("faststream_hare.publishing")

#: How many publishes ``publish_many`` keeps waiting for their confirm at once by default.
DEFAULT_MAX_IN_FLIGHT = 256


@dataclass(frozen=True, slots=True)
class BatchHooks:
    """What a batch needs of its publisher (the same steps as ``publish_message``)."""

    #: Encode a message: the body and its dedup key (``None`` without dedup).
    encode: Callable[[object], tuple[EncodedBody, str | None]]
    #: Publish one encoded message and wait for its confirm.
    send: Callable[[EncodedBody], Awaitable[PublishResult]]
    encoding_failed: Callable[[EncodingFailedError], None]
    duplicate: Callable[[str], None]


@dataclass(frozen=True, slots=True)
class BatchDedup:
    """The dedup store of the batch and the period of its claims."""

    store: DedupStore
    period_ms: int | None


def batch_encoder(
    keys: Sequence[str] | None, namespace: bytes
) -> Callable[[object], tuple[EncodedBody, str | None]]:
    """``BatchHooks.encode`` for a publisher: with ``keys=None`` (no dedup) no key is built."""
    if keys is None:
        return lambda message: (encode_body(message), None)
    return lambda message: encode_with_key(message, keys, namespace)


def check_batch(messages: object, max_in_flight: object) -> list[Any]:
    """The messages as a list; one sentence naming the argument when the call cannot work."""
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
        msg = (
            f"max_in_flight must be an integer >= 1, got {max_in_flight!r}; "
            f"the default is {DEFAULT_MAX_IN_FLIGHT}."
        )
        raise HareConfigError(msg)
    if isinstance(messages, str | bytes | bytearray | Mapping) or not isinstance(
        messages, Iterable
    ):
        msg = (
            f"publish_many takes an iterable of messages, got a {type(messages).__name__}; "
            "wrap one message in a list, or call publish_message."
        )
        raise HareConfigError(msg)
    return list(messages)


async def publish_batch(
    messages: list[Any],
    *,
    max_in_flight: int,
    hooks: BatchHooks,
    dedup: BatchDedup | None,
) -> list[PublishResult]:
    """Encode, claim, publish with up to ``max_in_flight`` confirms pending, release."""
    results: list[PublishResult | None] = [None] * len(messages)
    outgoing: list[tuple[int, EncodedBody]] = []
    keys: list[str] = []
    for index, message in enumerate(messages):
        try:
            encoded, key = hooks.encode(message)
        except EncodingFailedError as exc:
            hooks.encoding_failed(exc)
            results[index] = PublishResult.ENCODING_FAILED
            continue
        outgoing.append((index, encoded))
        if key is not None:
            keys.append(key)
    claims: dict[int, Claim] = {}
    if dedup is not None and outgoing:
        # raises HareDedupError before anything is published when the store is unreachable
        claimed = await claim_many(dedup.store, keys, dedup.period_ms)
        kept: list[tuple[int, EncodedBody]] = []
        for (index, encoded), key, claim in zip(outgoing, keys, claimed, strict=True):
            if claim is None:
                hooks.duplicate(key)
                results[index] = PublishResult.DUPLICATE
            else:
                claims[index] = claim
                kept.append((index, encoded))
        outgoing = kept
    try:
        await _pipeline(outgoing, hooks.send, results, max_in_flight)
    except BaseException:
        # cancelled, or an error out of a handler in memory: outcomes unknown, so a retry
        # of these messages must not be a "duplicate" (at-least-once, as publish_message)
        if dedup is not None:
            await release_quietly(dedup.store, _unconfirmed(claims, results))
        raise
    done = [PublishResult.NOT_CONNECTED if r is None else r for r in results]
    if dedup is not None:
        await _release(dedup.store, _unconfirmed(claims, results), done)
    return done


async def _pipeline(
    outgoing: list[tuple[int, EncodedBody]],
    send: Callable[[EncodedBody], Awaitable[PublishResult]],
    results: list[PublishResult | None],
    max_in_flight: int,
) -> None:
    """Publish ``outgoing`` with up to ``max_in_flight`` sends waiting at once.

    Workers take the next message from one shared iterator, so the messages go out in input
    order (unless a middleware awaits) and there are never more tasks than ``max_in_flight``.
    """
    pending = iter(outgoing)

    async def worker() -> None:
        for index, encoded in pending:
            results[index] = await send(encoded)

    count = min(max_in_flight, len(outgoing))
    if count <= 1:
        await worker()
        return
    loop = asyncio.get_running_loop()
    workers = [loop.create_task(worker()) for _ in range(count)]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise


def _unconfirmed(claims: dict[int, Claim], results: Sequence[PublishResult | None]) -> list[Claim]:
    return [claim for index, claim in claims.items() if results[index] is not PublishResult.OK]


async def _release(store: DedupStore, claims: list[Claim], results: list[PublishResult]) -> None:
    """Release the claims of the unconfirmed messages; the caller learns when that fails."""
    try:
        await release_many(store, claims)
    except Exception as exc:
        msg = (
            f"{len(claims)} message(s) of the batch were not published and their dedup "
            f"claims could not be released ({exc}); publishing them again is a DUPLICATE "
            "until the claims expire (the results are on this error's .results)."
        )
        raise ClaimsNotReleasedError(msg, results) from exc
