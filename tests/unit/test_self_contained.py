"""The repository stands alone: its code, scripts and docs point at its own documents only."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: A design document that is not in the repository, cited by section ("DESIGN §14").
OUTSIDE = re.compile(r"\bDESIGN\s*§|shared/DESIGN|reference/[\w-]+\.md")
#: A bare section citation ("§11"): the sections of a document that is not in the repository.
SECTION = re.compile(r"§\s*\d+")
SOURCES = ("faststream_hare", "tests", "scripts", "docs", "examples", "benchmarks")
#: Not the repository's own text: virtualenvs, caches, builds, git's store.
SKIPPED = {
    ".git",
    ".venv",
    ".venvs",
    "site",
    "build",
    "dist",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
}


def _texts() -> list[Path]:
    """Every text file of the repository (binary files, such as images, are left out)."""
    found = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if any(part in SKIPPED or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        if b"\0" in path.read_bytes()[:4096]:
            continue
        found.append(path)
    return found


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


def test_nothing_cites_a_section_by_number() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _texts()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if SECTION.search(line)
    ]
    assert not found, (
        "A '§<number>' citation points at a section of a document that is not in the "
        "repository; cite the docs/*.md page (and its heading) instead:\n" + "\n".join(found)
    )
