"""One log line per kind of failure per interval, with a count of the ones held back.

During an outage every ``publish_message`` fails the same way; a thousand identical WARNING
lines hide the one line an operator needs. The first failure is logged at once; the rest of
the interval is summed up in the next line ("... and 1012 more like it in the last 10 s").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

DEFAULT_INTERVAL_S = 10.0


class LogThrottle:
    """Logs ``key``'s first message per interval; counts the others."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> None:
        """Log now if ``key`` was quiet for ``interval_s``; else count it for the next line."""
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now - window[0] < self.interval_s:
            self._windows[key] = (window[0], window[1] + 1)
            return
        held_back = window[1] if window is not None else 0
        self._windows[key] = (now, 0)
        if held_back:
            message = f"{message} (and {held_back} more like it in the last %.0f s)"
            args = (*args, now - window[0] if window is not None else 0.0)
        self.logger.log(level, message, *args)
