"""The optional parts of hare, and the extra that installs each.

The core install is what consuming and publishing need. A part whose extra is missing says so in
one sentence that names the extra, instead of a ``ModuleNotFoundError`` from deep inside.
"""

from __future__ import annotations

from faststream_hare.errors import HareMissingExtraError

#: Top-level module → the extra of faststream-hare that installs it.
EXTRA_OF = {
    "rich": "cli",
    "typer": "cli",
    "redis": "redis",
    "prometheus_client": "prometheus",
    "opentelemetry": "otel",
    "fastapi": "fastapi",
    "starlette": "console",
    "jinja2": "console",
    "multipart": "console",
    "python_multipart": "console",
    "uvicorn": "console",
    "asyncpg": "outbox",
    "sqlalchemy": "outbox",
}


def missing_extra(feature: str, error: ModuleNotFoundError) -> ImportError:
    """The error to raise when importing ``feature``'s dependencies failed with ``error``."""
    top = (error.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return error  # not an optional dependency: the original error says more
    return _error(feature, top, extra)


def _error(feature: str, module: str, extra: str) -> HareMissingExtraError:
    msg = (
        f"{feature} needs {module}, which is not installed: pip install 'faststream-hare[{extra}]'."
    )
    return HareMissingExtraError(msg, name=module)
