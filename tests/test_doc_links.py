"""Every relative link in README.md and docs/ leads to a file of the repository, and every
`#anchor` into a Markdown file to one of its headings (as GitHub makes anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in HEADING.findall(text)}


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = [t for t in links(page) if not leads_somewhere(page, t)]
    assert broken == [], f"{page.name}: links to nothing"


def leads_somewhere(page: Path, target: str) -> bool:
    path, _, anchor = target.partition("#")
    file = (page.parent / path).resolve() if path else page
    if not file.exists() or REPO not in file.parents:
        return False
    return not anchor or file.suffix != ".md" or anchor in anchors(file)


def test_every_markdown_file_named_in_the_docs_exists() -> None:
    """A page named in prose (not only as a link) must exist too; `summary.md` is a build's
    output file, not a page."""
    existing = {p.name for p in REPO.rglob("*.md") if ".git" not in p.parts} | {"summary.md"}
    named = {Path(m).name for page in PAGES
             for m in re.findall(r"[\w./-]+\.md\b", page.read_text(encoding="utf-8"))}
    assert named - existing == set()
