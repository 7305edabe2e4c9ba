"""Counting log lines: how often hare said something (e.g. that a message goes back to Q)."""

from __future__ import annotations

import logging


class LogCount(logging.Handler):
    """Counts the records whose message contains ``phrase``; add it to a logger."""

    def __init__(self, phrase: str) -> None:
        super().__init__(logging.DEBUG)
        self.phrase = phrase
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.phrase in record.getMessage():
            self.count += 1
