"""mkdocs hook: relative links inside included benchmark reports keep working.

The model pages include the benchmark reports ``docs/benchmarks/<name>.md`` with
``pymdownx.snippets`` (one source for every table). A report may link to its
neighbours, ``[decomposition.md](decomposition.md)``, relative to
``docs/benchmarks/``; on the including page, ``docs/models/nuno.md``, that link would
point to ``docs/models/decomposition.md`` and ``mkdocs build --strict`` would fail.

After the snippets preprocessor has run, every relative Markdown link or image target
that does not exist as seen from the page, but does from one of the snippet folders
(:data:`SNIPPET_FOLDERS`), is rewritten relative to the page. Targets that exist from
the page, absolute paths and URLs are left alone.

Used by mkdocs.yml (``hooks``).
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

from markdown import Extension
from markdown.preprocessors import Preprocessor

#: Folders (relative to docs/) whose files pages include as snippets.
SNIPPET_FOLDERS = ("benchmarks",)

#: ``](target)`` or ``](target#anchor)`` of a Markdown link or image.
LINK = re.compile(r"(?P<open>\]\()(?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?(?P<close>\))")

_state: Dict[str, Any] = {"page": None, "docs_dir": None}


def rebase(target: str, page: str, docs_dir: Path) -> Optional[str]:
    """``target`` relative to ``page`` (both docs-relative POSIX paths) when it only exists from a snippet folder."""
    if "://" in target or target.startswith(("/", "mailto:")):
        return None
    page_dir = posixpath.dirname(page)
    if (docs_dir / page_dir / target).exists():
        return None
    for folder in SNIPPET_FOLDERS:
        candidate = posixpath.normpath(posixpath.join(folder, target))
        if folder != page_dir and (docs_dir / candidate).exists():
            return posixpath.relpath(candidate, page_dir or ".")
    return None


class _RebaseLinks(Preprocessor):
    def run(self, lines: List[str]) -> List[str]:
        page, docs_dir = _state["page"], _state["docs_dir"]
        if page is None or docs_dir is None:
            return lines

        def one(match: re.Match) -> str:
            new = rebase(match["target"], page, docs_dir)
            if new is None:
                return match[0]
            return f"{match['open']}{new}{match['anchor'] or ''}{match['close']}"

        return [LINK.sub(one, line) for line in lines]


class _RebaseLinksExtension(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 - Python-Markdown's name
        md.preprocessors.register(_RebaseLinks(md), "graphops_rebase_snippet_links", 31)  # just after snippets (32)


def on_config(config, **kwargs):
    """Add the link-rebasing preprocessor to every page's Markdown."""
    _state["docs_dir"] = Path(config["docs_dir"])
    config["markdown_extensions"].append(_RebaseLinksExtension())
    return config


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    """Remember which page is being converted (its links are resolved from its folder)."""
    _state["page"] = page.file.src_uri
    return markdown
