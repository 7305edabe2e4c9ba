"""The outboxes of an app's broker (every ``Outbox(broker, ...)`` registers itself there) and
their backlogs, for ``hare status`` and the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faststream_hare.outbox.backlog import Backlog
from faststream_hare.outbox.outbox import Outbox

if TYPE_CHECKING:
    from faststream_hare.broker import HareBroker


def outboxes_of(broker: HareBroker) -> list[Outbox]:
    """Every ``Outbox`` created for ``broker``."""
    return [c for c in broker.hare_runtime.companions if isinstance(c, Outbox)]


async def gather_backlogs(broker: HareBroker | None) -> list[Backlog]:
    """The backlog of each of the app's outboxes (none without an app)."""
    if broker is None:
        return []
    return [await outbox.backlog() for outbox in outboxes_of(broker)]
