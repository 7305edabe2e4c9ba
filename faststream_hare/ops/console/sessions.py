"""Signed console sessions and the CSRF value derived from each.

A session cookie is ``<id>.<issued>.<signature>``, signed with a secret that lives only in
this process: a cookie planted by another page (another port of the same host shares the
cookie jar) or left from an earlier run of the console does not verify. A form's CSRF value
is an HMAC of the session id, so it is good for that session only and cannot be planted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

#: How long a session lasts; after that the browser needs the token again.
SESSION_SECONDS = 12 * 3600


class Sessions:
    """Issues and checks session cookies and their CSRF values (one secret per process)."""

    def __init__(self, lifetime: int = SESSION_SECONDS) -> None:
        self.lifetime = lifetime
        self._secret = secrets.token_bytes(32)

    def issue(self) -> tuple[str, str]:
        """A new session: ``(session id, cookie value)``."""
        session = secrets.token_urlsafe(18)
        payload = f"{session}.{int(time.time())}"
        return session, f"{payload}.{self._sign('session', payload)}"

    def open(self, cookie: str) -> str | None:
        """The session id of a genuine, unexpired cookie; ``None`` for anything else."""
        payload, _, signature = cookie.rpartition(".")
        session, _, issued = payload.partition(".")
        if not (session and issued.isdigit() and same(signature, self._sign("session", payload))):
            return None
        if time.time() - int(issued) > self.lifetime:
            return None
        return session

    def csrf(self, session: str) -> str:
        """The CSRF value of ``session``'s forms."""
        return self._sign("csrf", session)

    def csrf_ok(self, session: str | None, submitted: object) -> bool:
        return (
            session is not None
            and isinstance(submitted, str)
            and same(submitted, self.csrf(session))
        )

    def _sign(self, purpose: str, value: str) -> str:
        message = f"{purpose}:{value}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(given.encode(), expected.encode())
