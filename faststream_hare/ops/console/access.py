"""Who may use the console: the operator's explicit choice, checked when the console is built.

``token``: every request shows the token (once, then a session cookie). ``app``: the app the
console is mounted in authenticates its routes. ``none``: a development run on loopback only,
announced on every page. There is no silent default: without a token the choice must be made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from faststream_hare.errors import HareConfigError
from faststream_hare.ops.console.hosts import HostCheck, is_loopback

AuthMode = Literal["token", "app", "none"]


@dataclass(frozen=True)
class Access:
    """The console's access rules, checked by ``auth.ConsoleGuard`` on every request."""

    mode: AuthMode
    token: str | None
    hosts: HostCheck
    trust_forwarded_proto: bool = False


def choose_access(
    token: str | None,
    auth: str | None,
    *,
    bound: str | None = None,
    allowed_hosts: Iterable[str] = (),
    trust_forwarded_proto: bool = False,
) -> Access:
    """Validate the token/auth choice; ``bound`` is the address served on (``None``: mounted)."""
    token = token or None
    if auth is None and token is None:
        msg = (
            "The console needs token=... (e.g. os.environ['HARE_CONSOLE_TOKEN']) or an explicit "
            "auth=: 'app' when your app authenticates the console's routes itself, 'none' for a "
            "loopback-only development run."
        )
        raise HareConfigError(msg)
    mode = auth or "token"
    if mode not in get_args(AuthMode):
        msg = f"auth={mode!r} is not a choice; use 'token' (with token=...), 'app' or 'none'."
        raise HareConfigError(msg)
    if mode == "token" and token is None:
        msg = "auth='token' needs token=... (e.g. os.environ['HARE_CONSOLE_TOKEN'])."
        raise HareConfigError(msg)
    if mode != "token" and token is not None:
        msg = f"token=... and auth={mode!r} contradict each other; pass only one of them."
        raise HareConfigError(msg)
    if mode == "none" and bound is not None and not is_loopback(bound):
        msg = (
            f"--no-auth would let anyone who reaches {bound} replay and purge; it is allowed only "
            "with a loopback --host (127.0.0.1, ::1 or localhost), so drop it and use the token."
        )
        raise HareConfigError(msg)
    checked: AuthMode = mode  # type: ignore[assignment]  # checked against AuthMode above
    return Access(
        mode=checked,
        token=token,
        hosts=HostCheck(bound, allowed_hosts),
        trust_forwarded_proto=trust_forwarded_proto,
    )
