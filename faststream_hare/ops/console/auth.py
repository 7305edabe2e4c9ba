"""The console's guards: an optional access token, and a CSRF field on every POST form.

Token: ``Authorization: Bearer <token>`` on each request, or ``?token=<token>`` once, which
sets an HttpOnly session cookie (holding an HMAC of the token, never the token itself) and
redirects to the same page without it, so the token does not stay in the address bar.

CSRF: a random per-browser value in a ``SameSite=Strict`` cookie that every form repeats in
a hidden field (double submit); a POST whose field is missing or different gets a 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "hare_console_session"
CSRF_COOKIE = "hare_console_csrf"
CSRF_FIELD = "csrf"


class TokenGuard:
    """ASGI middleware: every HTTP request must carry the token (header, query or cookie)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self._secret = secrets.token_bytes(32)

    def session_value(self) -> str:
        assert self.token is not None
        return hmac.new(self._secret, self.token.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._check(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _check(self, request: Request) -> Response | None:
        assert self.token is not None
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer ") and _same(header[7:], self.token):
            return None
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie and _same(cookie, self.session_value()):
            return None
        given = request.query_params.get("token")
        if given is not None and _same(given, self.token):
            clean = _without_token(request.url)
            redirect = RedirectResponse(str(clean), status_code=303)
            redirect.set_cookie(
                SESSION_COOKIE,
                self.session_value(),
                httponly=True,
                samesite="strict",
                path=request.scope.get("root_path") or "/",
            )
            return redirect
        return PlainTextResponse(
            "hare console: a token is required; open the page once with ?token=<token> or "
            "send Authorization: Bearer <token>.",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def csrf_value(request: Request) -> str:
    """This browser's CSRF value (new when the cookie is not set yet)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    value: str = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(24))
    return value


def remember_csrf(request: Request, response: Response) -> Response:
    """Set the CSRF cookie when this request created one."""
    new = request.state.__dict__.get("new_csrf")
    if new:
        response.set_cookie(
            CSRF_COOKIE,
            new,
            httponly=True,
            samesite="strict",
            path=request.scope.get("root_path") or "/",
        )
    return response


def csrf_ok(request: Request, submitted: object) -> bool:
    """True when the form's field repeats the browser's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and isinstance(submitted, str) and _same(submitted, cookie)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _without_token(url: URL) -> URL:
    return url.remove_query_params("token")
