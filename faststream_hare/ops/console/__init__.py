"""The dead-letter console: a small server-rendered web app (Starlette + Jinja2, no JS).

``create_app(broker, token=...)`` mounts in an existing ASGI app; ``hare console APP`` serves
it alone. Access is always an explicit choice: a token, or ``auth='app'`` / ``auth='none'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from faststream_hare._internal.extras import missing_extra

try:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Route
except ModuleNotFoundError as exc:
    raise missing_extra(__name__, exc) from None

from faststream_hare._internal.compat import UTC
from faststream_hare.broker import HareBroker
from faststream_hare.errors import HareConfigError
from faststream_hare.ops.console.access import choose_access
from faststream_hare.ops.console.auth import ConsoleGuard
from faststream_hare.ops.console.views import (
    Console,
    confirm_page,
    do_action,
    done_page,
    message_page,
    overview,
    queue_page,
)
from faststream_hare.ops.target import Target, broker_url

__all__ = ("create_app", "create_console")

#: Messages of ``Q.dead`` a page reads at most: its groups and pages cover these.
DEFAULT_SAMPLE = 1_000


def operator_zone(name: str | None) -> tzinfo:
    """The time zone called ``name`` (UTC when ``None``); one sentence when it is unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"--timezone {name!r} is not a known time zone; use an IANA name like Europe/Berlin."
        raise HareConfigError(msg) from None


def create_console(
    target: Target,
    *,
    queues: tuple[str, ...] = (),
    token: str | None = None,
    auth: str | None = None,
    allowed_hosts: Iterable[str] = (),
    bound: str | None = None,
    trust_forwarded_proto: bool = False,
    sample: int = DEFAULT_SAMPLE,
    mgmt_url: str | None = None,
    timezone: str | None = None,
) -> Starlette:
    """The console for an APP's broker (``target.broker``) or for ``queues`` at ``target.url``.

    ``bound`` is the address the console is served on (``None`` when mounted in another app);
    ``Host`` headers must name it or one of ``allowed_hosts``. Times show in ``timezone``
    (an IANA name such as ``Europe/Berlin``; default UTC).
    """
    if sample <= 0:
        msg = f"--sample must be a positive number of messages, got {sample}."
        raise HareConfigError(msg)
    zone = operator_zone(timezone)
    access = choose_access(
        token,
        auth,
        bound=bound,
        allowed_hosts=allowed_hosts,
        trust_forwarded_proto=trust_forwarded_proto,
    )
    routes = [
        Route("/", overview, name="overview"),
        Route("/queues/{queue}", queue_page, name="queue"),
        Route("/queues/{queue}/messages/{fingerprint}", message_page, name="message"),
        Route("/queues/{queue}/confirm", confirm_page, name="confirm"),
        Route("/queues/{queue}/action", do_action, methods=["POST"], name="action"),
        Route("/queues/{queue}/done/{result}", done_page, name="done"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(ConsoleGuard, access=access)])
    app.state.console = Console(
        target=target, queues=queues, sample=sample, mgmt_url=mgmt_url, zone=zone
    )
    return app


def create_app(
    broker: HareBroker,
    *,
    token: str | None = None,
    auth: str | None = None,
    allowed_hosts: Iterable[str] = (),
    trust_forwarded_proto: bool = False,
    sample: int = DEFAULT_SAMPLE,
    mgmt_url: str | None = None,
    timezone: str | None = None,
) -> Starlette:
    """The console for ``broker``'s hare queues, to mount in an ASGI app (e.g. ``/hare``).

    Give ``token=`` (requests show it once, then carry a session cookie), or choose
    ``auth='app'`` (your app authenticates the mount) or ``auth='none'`` (loopback only, for
    development). ``Host`` must be an IP address, ``localhost`` or one of ``allowed_hosts``;
    ``trust_forwarded_proto`` honours ``X-Forwarded-Proto`` from an HTTPS proxy.
    """
    return create_console(
        Target(url=broker_url(broker), broker=broker),
        token=token,
        auth=auth,
        allowed_hosts=allowed_hosts,
        trust_forwarded_proto=trust_forwarded_proto,
        sample=sample,
        mgmt_url=mgmt_url,
        timezone=timezone,
    )
