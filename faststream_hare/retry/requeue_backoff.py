"""How long a subscriber waits before handing back a message whose copy was not confirmed.

Each failed copy doubles the pause (0.5 s up to 30 s); the first confirmed copy resets it. So
a broken delay queue makes a failing handler run a handful of times a minute, not hundreds.
"""

from __future__ import annotations

FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 30.0


class RequeueBackoff:
    """One per subscriber."""

    def __init__(self, first_s: float = FIRST_PAUSE_S, max_s: float = MAX_PAUSE_S) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._next_s = first_s

    def next_pause(self) -> float:
        """The pause before this requeue; the next one will be twice as long."""
        pause = self._next_s
        self._next_s = min(pause * 2, self.max_s)
        return pause

    def reset(self) -> None:
        """A copy was confirmed: the path works again."""
        self._next_s = self.first_s
