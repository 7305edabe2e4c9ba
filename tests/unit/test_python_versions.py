"""Code that runs on CPython 3.10: nothing of 3.11+ outside ``_internal/compat.py``.

mypy (python_version 3.10) finds missing names such as ``asyncio.timeout``; what it cannot find
is a timeout caught as the built-in ``TimeoutError``, which on 3.10 is not the
``asyncio.TimeoutError`` that ``asyncio.wait_for`` and ``compat.timeout`` raise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import faststream_hare

PACKAGE = Path(faststream_hare.__file__).parent


def _caught_names(node: ast.AST) -> list[ast.expr]:
    """The expressions an ``except`` clause or a ``contextlib.suppress(...)`` call catches."""
    if isinstance(node, ast.ExceptHandler) and node.type is not None:
        caught = node.type
        return list(caught.elts) if isinstance(caught, ast.Tuple) else [caught]
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "suppress":
            return list(node.args)
    return []


def test_asyncio_timeouts_are_caught_as_asyncio_timeout_error() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        if "wait_for(" not in source and "timeout(" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            for caught in _caught_names(node):
                if isinstance(caught, ast.Name) and caught.id == "TimeoutError":
                    wrong.append(f"{path.relative_to(PACKAGE)}:{caught.lineno}")
    assert not wrong, f"catch asyncio.TimeoutError (3.10) at {wrong}"
