"""Dead letters: read ``Q.dead`` in order, select with filters, replay or purge with confirms.

The one engine behind ``broker.republish_dead_messages``, ``hare dead …`` and the console.
Each function works on an aio-pika connection the caller owns and opens channels of its own,
so an error there never closes the caller's other channels.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Literal

from aio_pika.abc import AbstractConnection

from faststream_hare._internal.confirm import ConfirmedPublisher
from faststream_hare.contract.copies import MessageCopy
from faststream_hare.dead_letters.browse import Browsed, browse
from faststream_hare.dead_letters.engine import Pacer, Progress, letter_id, process
from faststream_hare.dead_letters.letters import (
    DeadLetter,
    Where,
    check_count,
    matches_all,
    parse_rate,
    parse_where,
    parse_wheres,
    text_or_none,
)
from faststream_hare.dead_letters.scan import (
    AUTO,
    Sender,
    broker_default_limit,
    link_lost,
    lost_link_reason,
    scan_dead,
)
from faststream_hare.errors import DeadReport, QueueNotFoundError, ReplayError

__all__ = (
    "AUTO",
    "CONFIRM_TIMEOUT_S",
    "Browsed",
    "DeadLetter",
    "DeadReport",
    "DeliveryLimit",
    "Pacer",
    "Progress",
    "QueueNotFoundError",
    "ReplayError",
    "Sender",
    "Where",
    "broker_default_limit",
    "browse_letters",
    "check_count",
    "confirmed_sender",
    "letter_id",
    "matches_all",
    "parse_rate",
    "parse_where",
    "parse_wheres",
    "purge_letters",
    "read_letters",
    "replay_letters",
    "text_or_none",
)

#: How long a replayed copy may wait for the broker's confirm.
CONFIRM_TIMEOUT_S = 10.0
#: The delivery limit in force on ``Q.dead``: a number, ``None`` (no limit) or ``AUTO``.
DeliveryLimit = int | Literal["auto"] | None


async def read_letters(
    connection: AbstractConnection,
    queue: str,
    *,
    limit: int | None = None,
    delivery_limit: DeliveryLimit = AUTO,
) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``queue.dead``, head first, without removing any.

    Never deletes one, however often it runs: see ``scan.py`` for how a read keeps clear of
    a quorum queue's ``delivery_limit`` (``AUTO``: the broker's default).
    """
    letters: list[DeadLetter] = []
    async with (
        confirmed_sender(connection) as refile,
        scan_dead(
            connection, queue, refile=refile, delivery_limit=delivery_limit, to_depth=False
        ) as scan,
    ):
        while (item := await scan.next(limit)) is not None:
            scan.hold(item[0])
            letters.append(item[1])
    return letters


async def browse_letters(
    connection: AbstractConnection,
    queue: str,
    *,
    count: int,
    visit: Callable[[DeadLetter], None],
    delivery_limit: DeliveryLimit = AUTO,
) -> Browsed:
    """Show ``visit`` the first ``count`` messages of ``queue.dead``, head first; take none.

    Faster than ``read_letters`` for a window of thousands (a consumer with a prefetch
    instead of one ``basic.get`` each), and the caller keeps only what it needs of each.
    """
    limit = broker_default_limit(connection) if isinstance(delivery_limit, str) else delivery_limit
    async with confirmed_sender(connection) as refile:
        return await browse(
            connection, queue, count=count, visit=visit, refile=refile, delivery_limit=limit
        )


@contextlib.asynccontextmanager
async def confirmed_sender(connection: AbstractConnection) -> AsyncIterator[Sender]:
    """A ``Sender`` on a confirm channel of its own on ``connection``, closed afterwards."""
    publisher = ConfirmedPublisher(lambda: connection, default_timeout=CONFIRM_TIMEOUT_S)

    async def send(queue: str, copy: MessageCopy) -> None:
        await publisher.publish_raw(copy.body, copy.properties(), exchange="", routing_key=queue)

    try:
        yield send
    finally:
        await publisher.close()


async def replay_letters(
    connection: AbstractConnection,
    queue: str,
    *,
    where: Iterable[str | Where] = (),
    count: int | None = None,
    rate: str | float | None = None,
    dry_run: bool = False,
    sample: int | None = None,
    on_progress: Progress | None = None,
    send: Sender | None = None,
    delivery_limit: DeliveryLimit = AUTO,
    only: Iterable[str] | None = None,
) -> DeadReport:
    """Move matching messages of ``queue.dead`` back to ``queue``, each copy confirmed first.

    ``count`` caps how many move (``None``: all that match); ``rate`` (``"20/s"``) spaces the
    copies; ``dry_run`` only counts; ``sample`` caps how many messages are read; ``send``
    (default: a confirm channel of its own) publishes the copies. Raises ``ReplayError`` (with
    the report, the cause chained) when ``queue.dead`` does not exist, when the link is lost
    or when a copy is not confirmed: nothing is lost, what was not moved is still in
    ``queue.dead``. ``delivery_limit`` as in ``read_letters``;
    ``only`` (fingerprints) narrows the selection to messages seen before.
    """
    conditions, limit, per_second = parse_wheres(where), check_count(count), parse_rate(rate)
    if send is None:
        async with confirmed_sender(connection) as own:
            return await replay_letters(
                connection,
                queue,
                where=conditions,
                count=limit,
                rate=per_second,
                dry_run=dry_run,
                sample=sample,
                on_progress=on_progress,
                send=own,
                delivery_limit=delivery_limit,
                only=only,
            )
    try:
        async with scan_dead(connection, queue, refile=send, delivery_limit=delivery_limit) as scan:
            return await process(
                scan,
                action="replay",
                where=conditions,
                limit=limit,
                sample=sample,
                dry_run=dry_run,
                send=send,
                rate=per_second,
                on_progress=on_progress,
                only=only,
            )
    except ReplayError:
        raise
    except QueueNotFoundError as missing:
        raise _not_started(queue, dry_run, str(missing)) from missing
    except Exception as lost:  # before the first read: opening the channel, the declare
        if not (connection.is_closed or link_lost(lost, None)):
            raise
        msg = f"Replay from '{queue}.dead' did not start: {lost_link_reason(lost)}."
        raise _not_started(queue, dry_run, msg) from lost


def _not_started(queue: str, dry_run: bool, reason: str) -> ReplayError:
    """The ``ReplayError`` of a replay that moved nothing: ``Q.dead`` is as it was."""
    return ReplayError(reason, DeadReport(queue, 0, 0, 0, dry_run, 0, reason))


async def purge_letters(
    connection: AbstractConnection,
    queue: str,
    *,
    where: Iterable[str | Where] = (),
    count: int | None = None,
    dry_run: bool = False,
    sample: int | None = None,
    on_progress: Progress | None = None,
    delivery_limit: DeliveryLimit = AUTO,
    only: Iterable[str] | None = None,
) -> DeadReport:
    """Delete matching messages of ``queue.dead`` (the rest stay); ``moved`` = purged."""
    conditions, limit = parse_wheres(where), check_count(count)
    async with (
        confirmed_sender(connection) as refile,
        scan_dead(connection, queue, refile=refile, delivery_limit=delivery_limit) as scan,
    ):
        return await process(
            scan,
            action="purge",
            where=conditions,
            limit=limit,
            sample=sample,
            dry_run=dry_run,
            on_progress=on_progress,
            only=only,
        )
