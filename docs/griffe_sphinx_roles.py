"""Griffe extension for the API reference: Sphinx roles in docstrings become cross-references.

graphops docstrings are numpy style and name other objects with Sphinx roles
(``:func:`kdtree_decompose```, ``:class:`~graphops.errors.ConfigError```). Markdown
has no such roles, so without this extension they would show as raw text. After
griffe has loaded the package, every role is replaced by an *optional*
mkdocs-autorefs reference: a link when the target is documented on some page,
plain code otherwise (never a warning, so ``mkdocs build --strict`` stays quiet).
A paragraph ending in reST's literal-block marker ``::`` ends in ``:`` instead.

Names are resolved the way Sphinx resolves them: a dotted path starting with
``graphops`` as it is, anything else within the scope of the object whose
docstring names it (its members, then its parents'). A leading ``~`` shows the
last component only.

Used by mkdocs.yml (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""
from __future__ import annotations

import html
import re
from typing import Any, Iterator

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(?P<target>[^`]+)`")
#: reST's literal-block marker at the end of a paragraph ("... a dict::"); the indented
#: block after it is already a Markdown code block, so ``::`` becomes ``:``.
LITERAL_MARKER = re.compile(r"(?<=\S)::[ \t]*$", flags=re.MULTILINE)


def _objects(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined below it (aliases skipped: their targets are visited)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def resolve_path(scope: griffe.Object, name: str) -> str:
    """The full dotted path that ``name`` refers to when written in ``scope``'s docstring."""
    if name.startswith("graphops"):
        return name
    head, _, rest = name.partition(".")
    try:
        base = scope.resolve(head)
    except Exception:  # unknown in this scope: keep the name (an optional reference, never a warning)
        return name
    return f"{base}.{rest}" if rest else base


def replace_roles(text: str, scope: griffe.Object) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs reference."""

    def one(match: re.Match) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~")
        title = target.rsplit(".", 1)[-1] if short else target
        path = resolve_path(scope, target)
        return f'<autoref identifier="{html.escape(path)}" optional><code>{html.escape(title)}</code></autoref>'

    return LITERAL_MARKER.sub(":", ROLE.sub(one, text))


class SphinxRoles(griffe.Extension):
    """Rewrite the docstrings of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None and ":" in obj.docstring.value:  # roles and "::" both need one
                obj.docstring.value = replace_roles(obj.docstring.value, obj)
