"""A part whose extra is not installed says so in one sentence naming the extra."""

from __future__ import annotations

import importlib
import sys

import pytest

from faststream_hare import HareMissingExtraError


def without(monkeypatch: pytest.MonkeyPatch, missing: str, *fresh: str) -> None:
    """Make ``missing`` unimportable and forget ``fresh`` modules (restored after the test)."""
    for name in [missing, *(n for n in sys.modules if n.startswith(f"{missing}."))]:
        monkeypatch.setitem(sys.modules, name, None)
    for name in list(sys.modules):
        if name in fresh or name.startswith(tuple(f"{m}." for m in fresh)):
            monkeypatch.delitem(sys.modules, name)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:  # `from package import module` reads the attribute
                monkeypatch.delattr(sys.modules[parent], child, raising=False)


@pytest.mark.parametrize(
    ("module", "dependency", "extra"),
    [
        ("faststream_hare.telemetry.prometheus", "prometheus_client", "prometheus"),
        ("faststream_hare.telemetry.otel", "opentelemetry", "otel"),
        ("faststream_hare.fastapi", "fastapi", "fastapi"),
        ("faststream_hare.ops.console", "starlette", "console"),
    ],
)
def test_an_optional_part_names_its_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, dependency: str, extra: str
) -> None:
    without(monkeypatch, dependency, module, "faststream_hare.telemetry.traceparent")
    with pytest.raises(HareMissingExtraError) as caught:
        importlib.import_module(module)
    message = str(caught.value)
    assert message == (
        f"{module} needs {dependency}, which is not installed: "
        f"pip install 'faststream-hare[{extra}]'."
    )
    assert isinstance(caught.value, ImportError)


def test_the_hare_command_without_the_cli_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    without(
        monkeypatch,
        "rich",
        "faststream_hare.ops.cli",
        "faststream_hare.ops.commands",
        "faststream_hare.ops.render",
        "faststream_hare.outbox.commands",
    )
    cli = importlib.import_module("faststream_hare.ops.cli")
    assert cli.main(["--help"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "hare: The hare command needs rich, which is not installed: "
        "pip install 'faststream-hare[cli]'.\n"
    )
