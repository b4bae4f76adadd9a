"""The CLI reference in docs/ is generated from the CLI and must be current."""
import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (DOCS / "cli.md").read_text() == gen.render(), "run: .venv/bin/python docs/gen_cli.py"


ROOT = DOCS.parent


def _nav_pages(entry):
    """Every page path in a mkdocs ``nav`` entry (nested lists and ``{title: page}`` dicts)."""
    if isinstance(entry, str):
        yield entry
    elif isinstance(entry, list):
        for item in entry:
            yield from _nav_pages(item)
    elif isinstance(entry, dict):
        for value in entry.values():
            yield from _nav_pages(value)


def test_every_nav_page_exists():
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = list(_nav_pages(config["nav"]))
    assert "index.md" in pages and "cli.md" in pages
    missing = [page for page in pages if not (DOCS / page).is_file()]
    assert not missing, f"pages in mkdocs.yml nav but not in docs/: {missing}"


def test_every_api_module_exists():
    import re

    names = []
    for page in sorted((DOCS / "api").glob("*.md")):
        names += re.findall(r"^:::\s*(graphops[\w.]*)\s*$", page.read_text(), flags=re.MULTILINE)
    assert len(names) >= 10, "docs/api/*.md should document the public modules with '::: graphops.x'"
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    assert not missing, f"docs/api names modules that do not exist: {missing}"


def test_figures_are_commit_sized():
    figures = sorted((DOCS / "figures").glob("*.png"))
    assert figures, "run: .venv/bin/python docs/make_figures.py"
    large = [f"{f.name}: {f.stat().st_size} bytes" for f in figures if f.stat().st_size >= 200_000]
    assert not large, f"figures must stay under 200 kB: {large}"
