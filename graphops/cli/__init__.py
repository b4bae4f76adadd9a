"""The thin ``graphops`` command line: each subcommand lives in its own module.

A command module defines ``register(subparsers)`` which adds its parser and
sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and
returning an exit code) with ``parser.set_defaults(func=...)``. Every command
is a call into the library that a user can also make from Python.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from ..errors import GraphopsError

#: Subcommand modules, in the order ``graphops --help`` lists them.
COMMAND_MODULES = ["info", "generate", "import_", "train", "evaluate", "predict", "decompose", "rollout"]


def build_parser() -> argparse.ArgumentParser:
    """The full ``graphops`` argument parser (also used to document the CLI)."""
    parser = argparse.ArgumentParser(
        prog="graphops",
        description="Meshes and point clouds to graphs; learn and apply PDE solution operators.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"graphops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``graphops`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GraphopsError as exc:
        print(f"graphops: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("graphops: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
