"""The repository stands alone: its code, scripts and docs point at its own documents only."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: A design document that is not in the repository, cited by section ("DESIGN §14").
OUTSIDE = re.compile(r"\bDESIGN\s*§|shared/DESIGN|reference/[\w-]+\.md")
SOURCES = ("faststream_hare", "tests", "scripts", "docs", "examples", "benchmarks")


def test_nothing_cites_a_document_outside_the_repository() -> None:
    found = []
    paths = [REPO / "README.md", REPO / "mkdocs.yml", REPO / ".ci" / "run"]
    for folder in SOURCES:
        paths += [
            p for p in (REPO / folder).rglob("*") if p.suffix in {".py", ".md", ".sh", ".html"}
        ]
    for path in paths:
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
