"""Write docs/cli.md from the graphops argument parser itself.

Run: .venv/bin/python docs/gen_cli.py   (tests/test_docs.py checks the file is current)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent / "cli.md"


def render() -> str:
    from graphops.cli import build_parser

    parser = build_parser()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    lines = ["# Command-line reference", "", "Generated from the CLI by `docs/gen_cli.py`; do not edit by hand.", ""]
    lines += ["```text", parser.format_help().replace("python -m pytest", "graphops").rstrip(), "```", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        command.prog = f"graphops {name}"
        lines += [f"## graphops {name}", "", "```text", command.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    import os

    os.environ["COLUMNS"] = "100"
    DOC.write_text(render())
    print(f"wrote {DOC}", file=sys.stderr)
