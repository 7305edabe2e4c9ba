"""The console's access rules as pure units: the auth choice, Host names, signed sessions."""

from __future__ import annotations

import pytest

from faststream_hare import HareBroker
from faststream_hare.errors import HareConfigError
from faststream_hare.ops.cli import main
from faststream_hare.ops.console import create_app
from faststream_hare.ops.console.access import choose_access
from faststream_hare.ops.console.hosts import HostCheck, host_name, is_loopback
from faststream_hare.ops.console.sessions import Sessions


def test_create_app_without_a_token_needs_an_explicit_choice() -> None:
    with pytest.raises(HareConfigError) as error:
        create_app(HareBroker())
    text = str(error.value)
    assert "token=" in text
    assert "auth=" in text
    create_app(HareBroker(), auth="app")
    create_app(HareBroker(), auth="none")
    create_app(HareBroker(), token="t")


@pytest.mark.parametrize(
    ("token", "auth", "words"),
    [
        (None, "token", "auth='token' needs token="),
        ("t", "none", "contradict"),
        ("t", "app", "contradict"),
        (None, "open", "auth='open' is not a choice"),
        ("", None, "needs token="),
    ],
)
def test_contradictory_choices_fail_in_one_sentence(
    token: str | None, auth: str | None, words: str
) -> None:
    with pytest.raises(HareConfigError, match=words):
        choose_access(token, auth)


def test_no_auth_only_on_a_loopback_bind() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert choose_access(None, "none", bound=host).mode == "none"
    for host in ("0.0.0.0", "192.168.1.4", "ops.example"):
        with pytest.raises(HareConfigError, match="only with a loopback --host"):
            choose_access(None, "none", bound=host)


@pytest.mark.parametrize(
    ("bound", "allowed", "host", "ok"),
    [
        ("127.0.0.1", (), "127.0.0.1:8088", True),
        ("127.0.0.1", (), "localhost:8088", True),
        ("127.0.0.1", (), "evil.example:8088", False),
        ("127.0.0.1", (), "10.0.0.5:8088", False),
        ("127.0.0.1", (), "", False),
        ("127.0.0.1", ("ops.example",), "OPS.example.:8088", True),
        ("::1", (), "[::1]:8088", True),
        ("10.0.0.5", (), "10.0.0.5", True),
        ("10.0.0.5", (), "localhost", False),
        ("0.0.0.0", (), "10.0.0.5:8088", True),
        ("0.0.0.0", (), "[fe80::1]:8088", True),
        ("0.0.0.0", (), "evil.example", False),
        (None, (), "127.0.0.1:8000", True),  # mounted: any address literal, localhost
        (None, (), "localhost", True),
        (None, (), "testserver", False),
        (None, ("shop.example",), "shop.example", True),
    ],
)
def test_host_check(bound: str | None, allowed: tuple[str, ...], host: str, ok: bool) -> None:
    assert HostCheck(bound, allowed).allows(host) is ok


def test_host_names_and_loopback() -> None:
    assert host_name("[::1]:8088") == "::1"
    assert host_name("Example.COM.:443") == "example.com"
    assert host_name("::1") == "::1"
    assert is_loopback("127.8.9.10")
    assert not is_loopback("0.0.0.0")


def test_sessions_are_signed_bound_and_expire() -> None:
    sessions = Sessions()
    session, cookie = sessions.issue()
    assert sessions.open(cookie) == session
    assert sessions.csrf_ok(session, sessions.csrf(session))

    other, _ = sessions.issue()
    assert not sessions.csrf_ok(other, sessions.csrf(session))  # another session's value
    assert not sessions.csrf_ok(None, sessions.csrf(session))
    assert not Sessions().csrf_ok(session, sessions.csrf(session))  # an earlier run's value

    forged = cookie.rpartition(".")[0] + ".00"
    assert sessions.open(forged) is None
    assert sessions.open("forged") is None
    assert sessions.open("") is None
    assert Sessions().open(cookie) is None  # an earlier run's cookie
    assert Sessions(lifetime=-1).open(Sessions(lifetime=-1).issue()[1]) is None


def test_cli_refuses_unsafe_console_options(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["console", "--url", "amqp://guest:pw@127.0.0.1/", "--queue", "q"]
    assert main([*base, "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "only with a loopback --host" in capsys.readouterr().err
    assert main([*base, "--no-auth", "--token", "t"]) == 2
    assert "contradict" in capsys.readouterr().err
    assert main([*base, "--certfile", "cert.pem"]) == 2
    assert "both --certfile and --keyfile" in capsys.readouterr().err
