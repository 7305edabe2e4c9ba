"""Credential masking: no password ever reaches a log line, a signal or an exception."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:@/\s]*)(?::[^@/\s]*)?@")


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (the user name is kept)."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def mask_text(text: str) -> str:
    """Mask every URL with credentials found inside free text (error messages)."""
    return mask_url(text)
