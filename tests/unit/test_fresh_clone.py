"""A fresh clone without the HareMq sources next to it: the interop tests skip, with one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop import haremq


def test_setup_elixir_without_sources_says_how_to_enable(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(haremq.SETUP_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "HARE_ELIXIR_HAREMQ_DIR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == haremq.NO_SOURCES
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "skipped" in lines[0]
    assert "HARE_ELIXIR_HAREMQ_DIR" in lines[0]


def test_interop_tests_skip_without_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARE_ELIXIR_HAREMQ_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("CI", raising=False)
    reason = haremq.build_haremq()
    assert isinstance(reason, str)
    assert reason.startswith("no HareMq sources")
    assert "HARE_ELIXIR_HAREMQ_DIR" in reason


def test_ci_without_sources_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI has the sources: their absence there is a failure, not a quiet skip."""
    monkeypatch.setenv("HARE_ELIXIR_HAREMQ_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match="no HareMq sources"):
        haremq.build_haremq()
