"""README.md stays short, and every link in it, docs/ and bench/README.md resolves inside the repository."""

from __future__ import annotations

import pathlib
import re

import pytest

from conftest import ROOT

DOCS = [
    ROOT / "README.md",
    ROOT / "bench" / "README.md",
    ROOT / "captures" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
_FENCE = re.compile(r"^(`{3,}|~{3,}).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def links(path: pathlib.Path) -> list[str]:
    """The targets of a Markdown file's links and images, outside code."""
    text = _CODE.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return _LINK.findall(text)


def slugs(path: pathlib.Path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", path.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: pathlib.Path) -> None:
    found = links(doc)
    for target in found:
        assert not re.match(r"[a-z]+:", target), f"{doc.name}: {target} leaves the repository"
        where, _, anchor = target.partition("#")
        resolved = (doc.parent / where).resolve() if where else doc
        assert resolved.is_relative_to(ROOT), f"{doc.name}: {target} is outside the repository"
        assert resolved.exists(), f"{doc.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in slugs(resolved), f"{doc.name}: {target}: no such heading"


def test_readme_is_short_and_links_the_docs() -> None:
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= 250
    linked = {(readme.parent / t.partition("#")[0]).resolve() for t in links(readme)}
    for doc in sorted((ROOT / "docs").glob("*.md")):
        reached = doc.resolve() in linked or any(
            doc.resolve() == (other.parent / t.partition("#")[0]).resolve()
            for other in DOCS
            for t in links(other)
        )
        assert reached, f"{doc.relative_to(ROOT)} is linked from nowhere"
