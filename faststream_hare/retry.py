"""The retry middleware (placeholder: pass-through until the retry issue lands)."""

from __future__ import annotations

from typing import Any

from faststream import BaseMiddleware
from faststream._internal.context.repository import ContextRepo


class RetryMiddleware:
    """Factory registered on the broker; builds one runtime per message."""

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> BaseMiddleware:
        return BaseMiddleware(msg, context=context)
