"""The console's reads of ``Q.dead``: one page, a message, a selection, never the whole queue.

Each read browses the head of ``Q.dead`` once (a consumer with a prefetch, everything given
back; see ``faststream_hare.dead_letters``) and keeps only what the page shows: the groups of
the first ``window`` messages as running tallies, and the letters of one page. Memory grows
with the page and the number of groups, not with the queue. The delivery limit in force on
``Q.dead`` comes from the management API when it answers (see ``ops.link``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from faststream_hare.dead_letters import (
    Browsed,
    DeadLetter,
    DeliveryLimit,
    Where,
    browse_letters,
    letter_id,
    matches_all,
)
from faststream_hare.ops.link import connect, dead_delivery_limit
from faststream_hare.ops.selection import NO_EXCEPTION, DeadGroup, GroupTally

#: Messages on one page of the console.
PAGE_SIZE = 50


@dataclass(frozen=True)
class DeadPage:
    """Page ``page`` of ``Q.dead`` (of group ``group``, or all) and the groups of the window."""

    queue: str
    depth: int
    read: int
    groups: list[DeadGroup]
    letters: list[DeadLetter]
    page: int
    has_next: bool
    #: The delivery limit the management API reports in force on ``Q.dead`` (only a quorum
    #: queue has one): each read gives messages back, and each return counts. ``None``: none
    #: known.
    delivery_limit: int | None = None


@dataclass(frozen=True)
class Selected:
    """One message a confirmation page lists: how a report names it, and its fingerprint."""

    position: int
    id: str
    fingerprint: str


async def read_page(
    url: str,
    queue: str,
    *,
    window: int,
    page: int = 0,
    group: str | None = None,
    mgmt_url: str | None = None,
) -> DeadPage:
    """Groups of the first ``window`` messages and page ``page`` of them (of ``group``)."""
    tally = GroupTally("exception")
    start = page * PAGE_SIZE
    letters: list[DeadLetter] = []
    matched = 0

    def visit(letter: DeadLetter) -> None:
        nonlocal matched
        tally.add(letter)
        if group is None or (letter.exception or NO_EXCEPTION) == group:
            if start <= matched < start + PAGE_SIZE:
                letters.append(letter)
            matched += 1

    browsed, limit = await _browse(url, queue, window, visit, mgmt_url)
    return DeadPage(
        queue=queue,
        depth=browsed.depth,
        read=browsed.read,
        groups=tally.groups(),
        letters=letters,
        page=page,
        has_next=matched > start + PAGE_SIZE,
        delivery_limit=limit if isinstance(limit, int) else None,
    )


async def find_letter(
    url: str, queue: str, fingerprint: str, *, window: int, mgmt_url: str | None = None
) -> DeadLetter | None:
    """The first message with ``fingerprint`` among the first ``window`` of ``Q.dead``."""
    found: list[DeadLetter] = []

    def visit(letter: DeadLetter) -> None:
        if not found and letter.fingerprint == fingerprint:
            found.append(letter)

    await _browse(url, queue, window, visit, mgmt_url)
    return found[0] if found else None


async def select_letters(
    url: str,
    queue: str,
    where: Sequence[Where],
    *,
    window: int,
    limit: int | None = None,
    mgmt_url: str | None = None,
) -> list[Selected]:
    """The messages among the first ``window`` that ``where`` selects (at most ``limit``)."""
    selected: list[Selected] = []

    def visit(letter: DeadLetter) -> None:
        if (limit is None or len(selected) < limit) and matches_all(letter, where):
            selected.append(Selected(letter.position, letter_id(letter), letter.fingerprint))

    await _browse(url, queue, window, visit, mgmt_url)
    return selected


async def _browse(
    url: str,
    queue: str,
    window: int,
    visit: Callable[[DeadLetter], None],
    mgmt_url: str | None,
) -> tuple[Browsed, DeliveryLimit]:
    """One browse of the first ``window`` messages, on a connection of its own, and the
    delivery limit it kept clear of (``AUTO`` when the management API did not say)."""
    async with connect(url) as connection:
        limit = await dead_delivery_limit(connection, url, queue, mgmt_url)
        browsed = await browse_letters(
            connection, queue, count=window, visit=visit, delivery_limit=limit
        )
    return browsed, limit
