"""Publishing the rows of one batch: confirmed, each key's rows in order.

Rows of different keys (and rows without a key) are in flight together on the relay's confirm
channel. Within a key, rows go out in *runs*: consecutive rows for the same exchange and
routing key are written one after another without waiting (their confirms are awaited
together), and the next run starts only once every row of the previous one was confirmed.
Order holds because RabbitMQ stores a channel's messages in the order they were written, and
rows of one run are routed alike: when the link goes, what was stored is a prefix of the run,
and the rest fails with it (published again later, from its first unconfirmed row).

A row that failed before (returned, nacked, no confirm) is a run of its own: it goes out
alone, and nothing of its key follows until it was confirmed, so a failing row is not
overtaken while it keeps failing. A row whose message_id appears twice in a batch is alone as
well (the publish pipeline holds back a message_id already in flight). After a failure the rest
of the key waits for the next batch, after the failed row's back-off.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aio_pika import DeliveryMode, Message

from faststream_hare._internal.confirm import ConfirmedPublisher
from faststream_hare.errors import ConfirmTimeoutError, NackedError, ReturnedError
from faststream_hare.outbox.claims import Failure, OutboxRow

logger = logging.getLogger("faststream_hare.outbox")

#: Back-off of a failing key: 0.25 s after the first failure, doubling, at most 30 s for a
#: message RabbitMQ refused (a missing exchange is fixed by a person), at most 2 s when there
#: was no confirm (RabbitMQ unreachable: the link comes back on its own).
FIRST_BACK_OFF_S = 0.25
MAX_BACK_OFF_S = 30.0
MAX_LINK_BACK_OFF_S = 2.0


def back_off_s(failures: int, *, refused: bool = True) -> float:
    """The pause after a row's ``failures``-th failure."""
    ceiling = MAX_BACK_OFF_S if refused else MAX_LINK_BACK_OFF_S
    return min(FIRST_BACK_OFF_S * 2.0 ** max(failures - 1, 0), ceiling)


@dataclass(slots=True)
class BatchOutcome:
    """What became of each row of a batch."""

    published: list[OutboxRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: Rows not tried because an earlier row of their key failed in this batch.
    untried: list[OutboxRow] = field(default_factory=list)


def to_message(row: OutboxRow) -> Message:
    """The AMQP message of a row: as ``publish_message`` sends it, with the row's message_id."""
    return Message(
        row.body,
        headers=row.headers,
        content_type=row.content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=row.message_id,
        correlation_id=row.message_id,
    )


#: At most this many rows of one key in flight at once (one run).
MAX_RUN = 128


def runs(group: list[OutboxRow], shared_ids: set[str]) -> list[list[OutboxRow]]:
    """One key's rows (oldest first) cut into runs that may be in flight together."""
    cut: list[list[OutboxRow]] = []
    for row in group:
        alone = row.failures > 0 or row.message_id in shared_ids
        last = cut[-1] if cut else None
        if (
            last is None
            or alone
            or len(last) >= MAX_RUN
            or last[-1].failures > 0
            or last[-1].message_id in shared_ids
            or (last[-1].exchange, last[-1].routing_key) != (row.exchange, row.routing_key)
        ):
            cut.append([row])
        else:
            last.append(row)
    return cut


async def publish_rows(
    rows: list[OutboxRow],
    publisher: ConfirmedPublisher,
    *,
    timeout_s: float,
) -> BatchOutcome:
    """Publish ``rows`` (oldest first) and sort them by outcome."""
    outcome = BatchOutcome()
    groups: dict[object, list[OutboxRow]] = {}
    seen: set[str] = set()
    shared_ids: set[str] = set()
    for row in rows:
        groups.setdefault(row.key if row.key is not None else ("row", row.id), []).append(row)
        if row.message_id in seen:
            shared_ids.add(row.message_id)
        seen.add(row.message_id)

    async def publish_one(row: OutboxRow) -> BaseException | None:
        try:
            await publisher.publish(
                to_message(row),
                exchange=row.exchange,
                routing_key=row.routing_key,
                timeout=timeout_s,
            )
        except Exception as exc:
            return exc
        return None

    def failure(row: OutboxRow, error: BaseException) -> Failure:
        refused = isinstance(error, ReturnedError | NackedError)
        return Failure(
            row,
            refused,
            f"{type(error).__name__}: {error}",
            back_off_s(row.failures + 1, refused=refused),
        )

    async def publish_group(group: list[OutboxRow]) -> None:
        key_runs = runs(group, shared_ids)
        for index, run in enumerate(key_runs):
            # the tasks start in order, and each hands its message to the channel's pipeline
            # in its first step: the run is written in row order
            results = await asyncio.gather(*(publish_one(row) for row in run))
            first_failure: int | None = None
            for at, (row, error) in enumerate(zip(run, results, strict=True)):
                if error is None:
                    if first_failure is not None:
                        overtook(row)
                    outcome.published.append(row)
                elif first_failure is None:
                    first_failure = at
                    outcome.failures.append(failure(row, error))
                else:
                    after_failure(row, error)
            if first_failure is not None:
                outcome.untried.extend(row for later in key_runs[index + 1 :] for row in later)
                return

    def after_failure(row: OutboxRow, error: BaseException) -> None:
        """A row of a run that failed after an earlier row of the run failed (the link went,
        the exchange is missing): one failure per key and try is recorded, the first."""
        if isinstance(error, ReturnedError | NackedError):
            outcome.untried.append(row)  # certainly not stored: as if not tried
        elif isinstance(error, ConfirmTimeoutError):
            # its publish may still be in flight (the pipeline holds back its message_id):
            # recorded, so it goes out alone next time
            outcome.failures.append(failure(row, error))
        # else (no connection): maybe stored; its try stays counted, so a publish next time
        # is counted as a possible duplicate

    await asyncio.gather(*(publish_group(group) for group in groups.values()))
    return outcome


def overtook(row: OutboxRow) -> None:
    """A row confirmed after an earlier row of its run failed: RabbitMQ refused one message and
    took the next one for the same exchange and routing key (a binding changed between the two,
    a full queue made room), or one confirm never came. Logged: the key's order breaks once."""
    logger.warning(
        "Outbox: message %s (key %r) was confirmed after an earlier message of its key failed; "
        "that one is published again after its back-off, so this key's order breaks once",
        row.message_id,
        row.key,
    )
