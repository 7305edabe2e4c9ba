"""The console's guard: Host check, token or session, same-origin POSTs, CSRF values.

Every request must name a host the console answers (no DNS rebinding). With a token, a
request shows it as ``Authorization: Bearer <token>``, in the sign-in form a browser gets
with its 401, or once as ``?token=<token>``; the last two start a signed session cookie and
redirect to the page without the token, so it stays out of addresses, history, proxy and
access logs. Without a token (``auth='app'`` or ``'none'``) each browser still gets a
session, because the CSRF value is derived from it.
A POST must come from the console's own origin (``Origin``, else ``Referer``) and carry its
session's CSRF value; requests that showed the bearer token are exempt (no browser adds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faststream_hare.ops.console.access import Access
from faststream_hare.ops.console.hosts import is_loopback
from faststream_hare.ops.console.sessions import Sessions, same

CSRF_FIELD = "csrf"
COOKIE_PREFIX = "hare_console"
_SCOPE_KEY = "hare_console.visit"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PAGES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: Sent with every response: no framing (a purge button under someone's overlay), no
#: scripts or remote content, no caching of message bodies, no Referer to other sites.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class Visit:
    """What the guard learned about a request the views may serve."""

    session: str | None
    bearer: bool
    no_auth: bool
    sessions: Sessions


class ConsoleGuard:
    """ASGI middleware enforcing ``access`` on every HTTP request."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access
        self.sessions = Sessions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        secure = self._is_https(request)
        if secure:
            scope["scheme"] = "https"  # the console's own links, behind a trusted HTTPS proxy
        extra: list[str] = []
        outcome = await self._check(request, secure, extra)

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                for cookie in extra:
                    headers.append("set-cookie", cookie)
            await send(message)

        if isinstance(outcome, Response):
            await outcome(scope, receive, send_guarded)
        else:
            scope[_SCOPE_KEY] = outcome
            await self.app(scope, receive, send_guarded)

    async def _check(self, request: Request, secure: bool, cookies: list[str]) -> Response | Visit:
        access = self.access
        if not access.hosts.allows(request.headers.get("host", "")):
            return _refuse(
                400,
                "this Host is not an address the console answers (DNS rebinding is refused); "
                "add the name with --allowed-host NAME (create_app(..., allowed_hosts=[...])).",
            )
        if access.mode == "none" and not is_loopback(_client_host(request)):
            return _refuse(403, "a console started without authentication answers loopback only.")
        bearer = False
        session = self.sessions.open(request.cookies.get(self.cookie_name(request), ""))
        if access.mode == "token":
            shown = self._token_shown(request)
            if shown == "no" and request.method == "POST" and _is_sign_in(request):
                return await self._sign_in(request, secure, cookies)
            if shown == "query":
                redirect = RedirectResponse(_without_token(request), status_code=303)
                cookies.append(self._new_session(request, secure)[1])
                return redirect
            bearer = shown == "bearer"
            if shown == "wrong" or (not bearer and session is None):
                return _unauthorised(request, wrong=shown == "wrong")
        elif session is None:
            session, cookie = self._new_session(request, secure)
            cookies.append(cookie)
        if request.method not in _SAFE_METHODS and not bearer:
            refusal = self._foreign_post(request, secure)
            if refusal is not None:
                return refusal
        return Visit(
            session=None if bearer else session,
            bearer=bearer,
            no_auth=access.mode == "none",
            sessions=self.sessions,
        )

    async def _sign_in(self, request: Request, secure: bool, cookies: list[str]) -> Response:
        """The sign-in form's POST: the token in the body, never in an address."""
        refusal = self._foreign_post(request, secure)
        if refusal is not None:
            return refusal
        assert self.access.token is not None
        form = await request.form()
        given, after = form.get("token"), form.get("next")
        if not isinstance(given, str) or not same(given, self.access.token):
            return _unauthorised(request, wrong=True, after=after)
        cookies.append(self._new_session(request, secure)[1])
        return RedirectResponse(_own_path(request, after), status_code=303)

    def _foreign_post(self, request: Request, secure: bool) -> Response | None:
        """A 403 unless the request comes from a page of the console's own origin."""
        origin = _origin_of(request)
        if origin is not None and origin == self._own_origin(request, secure):
            return None
        return _refuse(
            403,
            "a POST must come from the console's own pages (its Origin or Referer did "
            "not match); behind an HTTPS proxy start it with --trust-forwarded-proto.",
        )

    def _token_shown(self, request: Request) -> Literal["query", "bearer", "no", "wrong"]:
        """How the request showed the token; a wrong ``?token=`` is never silently dropped."""
        assert self.access.token is not None
        given = request.query_params.get("token")
        if given is not None:
            return "query" if same(given, self.access.token) else "wrong"
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and same(credentials.strip(), self.access.token):
            return "bearer"
        return "no"

    def cookie_name(self, request: HTTPConnection) -> str:
        """Per port: consoles on two ports of one host share a cookie jar, not a session."""
        server = request.scope.get("server")
        return f"{COOKIE_PREFIX}_{server[1]}" if server and server[1] else COOKIE_PREFIX

    def _new_session(self, request: Request, secure: bool) -> tuple[str, str]:
        session, value = self.sessions.issue()
        path = request.scope.get("root_path") or "/"
        cookie = (
            f"{self.cookie_name(request)}={value}; Path={path}; Max-Age={self.sessions.lifetime}; "
            "HttpOnly; SameSite=Strict"
        )
        return session, cookie + ("; Secure" if secure else "")

    def _is_https(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        if not self.access.trust_forwarded_proto:
            return False
        forwarded = request.headers.get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"

    def _own_origin(self, request: Request, secure: bool) -> str:
        return _origin("https" if secure else "http", request.headers.get("host", ""))


def visit_of(request: HTTPConnection) -> Visit:
    """The guard's findings for this request (the console's views run only behind it)."""
    visit: Visit = request.scope[_SCOPE_KEY]
    return visit


def csrf_value(request: HTTPConnection) -> str:
    """The CSRF value for this request's forms ('' for bearer requests, which need none)."""
    visit = visit_of(request)
    return "" if visit.session is None else visit.sessions.csrf(visit.session)


def csrf_ok(request: HTTPConnection, submitted: object) -> bool:
    """True when the form's field is this session's CSRF value (or the bearer token was shown)."""
    visit = visit_of(request)
    return visit.bearer or visit.sessions.csrf_ok(visit.session, submitted)


def _origin_of(request: Request) -> str | None:
    """The page a POST came from: its ``Origin``, else its ``Referer``'s origin."""
    for value in (request.headers.get("origin", ""), request.headers.get("referer", "")):
        url = urlsplit(value)
        if url.scheme and url.netloc:
            return _origin(url.scheme, url.netloc)
    return None


def _origin(scheme: str, netloc: str) -> str:
    """``scheme://host[:port]`` in one spelling: lower case, no default port."""
    scheme, netloc = scheme.lower(), netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{scheme}://{netloc}"


def _client_host(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def _without_token(request: Request) -> str:
    """The same page, as a path (no scheme or host to get wrong behind a proxy), without token."""
    url = request.url.remove_query_params("token")
    return f"{url.path}?{url.query}" if url.query else url.path


def _unauthorised(request: Request, *, wrong: bool = False, after: object = None) -> Response:
    """401: the sign-in form for a browser, one line for anything else."""
    if "text/html" in request.headers.get("accept", ""):
        context = {
            "action": _sign_in_path(request),
            "next": _own_path(request, after or _page_to_return_to(request)),
            "wrong": wrong,
        }
        response: Response = _PAGES.TemplateResponse(
            request, "sign_in.html", context, status_code=401
        )
    else:
        response = _refuse(
            401,
            "a token is required; open the address `hare console` printed (it ends with "
            "?token=...) once, or send Authorization: Bearer <token>.",
        )
    response.headers["www-authenticate"] = "Bearer"
    return response


def _page_to_return_to(request: Request) -> str | None:
    return _without_token(request) if request.method == "GET" else None


def _is_sign_in(request: Request) -> bool:
    return request.url.path == _sign_in_path(request)


def _sign_in_path(request: Request) -> str:
    return f"{request.scope.get('root_path', '').rstrip('/')}/sign-in"


def _own_path(request: Request, path: object) -> str:
    """``path`` when it is a page of this console (no other host, no sign-in), else its root."""
    root = request.scope.get("root_path", "").rstrip("/")
    if (
        isinstance(path, str)
        and path.startswith(f"{root}/")
        and not path.startswith("//")
        and "\\" not in path
        and not path.startswith(_sign_in_path(request))
    ):
        return path
    return f"{root}/"


def _refuse(status: int, reason: str) -> Response:
    return PlainTextResponse(f"hare console: {reason}\n", status_code=status)
