"""The one dead-letter engine: scan ``Q.dead`` in order, take what matches, move or delete it.

``broker.republish_dead_messages``, ``hare dead replay|purge`` and the console all run
``process``. A move publishes a copy to ``Q`` (default exchange, mandatory routing) and acks
the dead original only after the broker confirmed the copy, so a message is never lost (at
worst, after a crash between the two steps, it is in both queues). The copy loses
``retry_count`` and the failure headers; everything else is kept. Messages not taken stay in
``Q.dead`` (in their order on a classic queue; see ``scan.py`` for a quorum one).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from faststream_hare._internal.channels import bounded
from faststream_hare.contract.copies import MessageCopy
from faststream_hare.contract.headers import replay_headers
from faststream_hare.dead_letters.letters import DeadLetter, Where, matches_all
from faststream_hare.dead_letters.scan import DeadScan, Sender, link_lost, lost_link_reason
from faststream_hare.errors import ConfirmError, DeadReport, ReplayError

#: ``on_progress(done, total)``: ``done`` messages read of at most ``total``.
Progress = Callable[[int, int], None]
Action = Literal["replay", "purge"]


class Pacer:
    """Spaces moves to at most ``rate`` per second (``None``: as fast as confirms go)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._started = 0.0
        self._done = 0

    async def wait(self) -> None:
        if self.rate is not None:
            now = time.monotonic()
            if self._done == 0:
                self._started = now
            elif (due := self._started + self._done / self.rate) > now:
                await asyncio.sleep(due - now)
        self._done += 1


async def process(
    scan: DeadScan,
    *,
    action: Action,
    where: Sequence[Where] = (),
    limit: int | None = None,
    sample: int | None = None,
    dry_run: bool = False,
    send: Sender | None = None,
    rate: float | None = None,
    on_progress: Progress | None = None,
    only: Iterable[str] | None = None,
) -> DeadReport:
    """One pass over ``Q.dead``: take what matches (up to ``limit``), hold the rest.

    ``only`` (fingerprints, a repeated one taken as often as it is given) narrows the match
    to messages seen before, e.g. on a confirmation page: what arrived since is left alone.
    A replay needs ``send``; a copy it cannot get confirmed goes back to ``Q.dead`` and the
    pass stops with a ``ReplayError``, as it does when the link is lost (what it held returns
    to ``Q.dead`` with the channel). A purge lets a lost link's error through.
    """
    taken = skipped = 0
    ids: list[str] = []
    wanted = Counter(only) if only is not None else None
    pacer = Pacer(rate)
    total = min(scan.depth_at_start, sample) if sample is not None else scan.depth_at_start
    while limit is None or taken < limit:
        try:
            item = await scan.next(sample)
        except Exception as lost:
            if action == "replay" and link_lost(lost, scan.channel):
                raise _stopped(scan, taken, skipped, dry_run, ids, lost) from lost
            raise
        if item is None:
            break
        message, letter = item
        selected = matches_all(letter, where) and (wanted is None or wanted[letter.fingerprint] > 0)
        if not selected or dry_run:
            scan.hold(message)
        elif action == "purge":
            # Bounded; one that times out purges nothing: the message stays unacked and
            # comes back to Q.dead with the channel.
            await bounded(message.ack())
        else:
            assert send is not None, "a replay needs a sender"
            await pacer.wait()
            copy = MessageCopy.of(message)
            try:
                await send(scan.queue, copy.with_headers(replay_headers(copy.headers)))
            except ConfirmError as failure:
                scan.hold(message)
                raise _stopped(scan, taken, skipped, dry_run, ids, failure) from failure
            try:
                # Bounded: a link that died with aiormq's write queue full never wakes the
                # ack. The copy is confirmed in Q, so one that fails or times out loses
                # nothing: the original stays unacked and RabbitMQ returns it to Q.dead with
                # the channel (at worst the message is in both queues, never in neither).
                await bounded(message.ack())
            except Exception as lost:
                if not link_lost(lost, scan.channel):
                    raise
                moved = [*ids, letter_id(letter)]  # its copy is in Q
                raise _stopped(scan, taken + 1, skipped, dry_run, moved, lost) from lost
        if selected:
            taken += 1
            ids.append(letter_id(letter))
            if wanted is not None:
                wanted[letter.fingerprint] -= 1
        else:
            skipped += 1
        if on_progress is not None:
            on_progress(scan.read, total)
    return DeadReport(scan.queue, taken, skipped, 0, dry_run, scan.read, None, tuple(ids))


def _stopped(
    scan: DeadScan,
    taken: int,
    skipped: int,
    dry_run: bool,
    ids: list[str],
    cause: BaseException,
) -> ReplayError:
    """The ``ReplayError`` of a replay that cannot go on: a copy not confirmed, a lost link."""
    reason = str(cause) if isinstance(cause, ConfirmError) else lost_link_reason(cause)
    failed = 1 if isinstance(cause, ConfirmError) else 0
    report = DeadReport(scan.queue, taken, skipped, failed, dry_run, scan.read, reason, tuple(ids))
    msg = (
        f"Replay from '{scan.dead_name}' to '{scan.queue}' stopped after {taken} "
        f"message(s): {reason}; the rest stay in '{scan.dead_name}'."
    )
    return ReplayError(msg, report)


def letter_id(letter: DeadLetter) -> str:
    """How a report names a message: its message id, else ``fingerprint:…``."""
    return letter.message_id or f"fingerprint:{letter.fingerprint}"
