"""Publishing the rows of one batch: confirmed, one key's rows one after another.

Rows of different keys (and rows without a key) are in flight together on the relay's confirm
channel. Within a key the next row is published only after the previous one was confirmed,
so a row that fails (returned, nacked, no connection) is never overtaken by a later row of
its key: the rest of that key waits for the next batch, after the failed row's back-off.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aio_pika import DeliveryMode, Message

from faststream_hare._internal.confirm import ConfirmedPublisher, NackedError, ReturnedError
from faststream_hare.outbox.claims import Failure, OutboxRow

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


async def publish_rows(
    rows: list[OutboxRow],
    publisher: ConfirmedPublisher,
    *,
    timeout_s: float,
) -> BatchOutcome:
    """Publish ``rows`` (oldest first) and sort them by outcome."""
    outcome = BatchOutcome()
    groups: dict[object, list[OutboxRow]] = {}
    for row in rows:
        groups.setdefault(row.key if row.key is not None else ("row", row.id), []).append(row)

    async def publish_group(group: list[OutboxRow]) -> None:
        for index, row in enumerate(group):
            try:
                await publisher.publish(
                    to_message(row),
                    exchange=row.exchange,
                    routing_key=row.routing_key,
                    timeout=timeout_s,
                )
            except Exception as exc:
                refused = isinstance(exc, ReturnedError | NackedError)
                outcome.failures.append(
                    Failure(
                        row,
                        refused,
                        f"{type(exc).__name__}: {exc}",
                        back_off_s(row.failures + 1, refused=refused),
                    )
                )
                outcome.untried.extend(group[index + 1 :])
                return
            outcome.published.append(row)

    await asyncio.gather(*(publish_group(group) for group in groups.values()))
    return outcome
