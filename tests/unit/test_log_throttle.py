"""LogThrottle: one line per interval per kind, with the count of the others."""

from __future__ import annotations

import logging

import pytest

from faststream_hare._internal.log_throttle import LogThrottle


def test_identical_failures_are_summed_up(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = LogThrottle(logging.getLogger("hare.test.throttle"), 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="hare.test.throttle"):
        for second in range(25):
            now[0] = float(second)
            for _ in range(100):
                throttle.log(logging.WARNING, "q", "publish to %s failed", "q")
            throttle.log(logging.WARNING, "other", "other failed")
    lines = [r.getMessage() for r in caplog.records if "publish" in r.getMessage()]
    assert lines == [
        "publish to q failed",
        "publish to q failed (and 999 more like it in the last 10 s)",
        "publish to q failed (and 999 more like it in the last 10 s)",
    ]
    assert sum("other failed" in r.getMessage() for r in caplog.records) == 3
