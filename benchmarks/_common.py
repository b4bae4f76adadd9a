"""Shared benchmark plumbing: timing, peak memory, and writing JSON + a markdown table."""
from __future__ import annotations

import json
import platform
import time
import tracemalloc
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks"


def measure(fn: Callable[[], object], repeat: int = 1) -> Tuple[float, float, object]:
    """Best wall time over ``repeat`` runs (s) and peak traced memory (MiB) of the first run.

    tracemalloc sees numpy allocations (and everything Python allocates), so the
    peak is the working memory of the call on top of what existed before it.
    """
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    best = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for _ in range(repeat - 1):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best, peak / 2**20, out


def machine() -> Dict[str, str]:
    import os

    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "cpu_count": str(os.cpu_count()),
        "processor": platform.processor() or platform.machine(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_report(name: str, title: str, intro: str, columns: Sequence[str], rows: List[Dict], extra: Dict | None = None) -> None:
    """Write ``benchmarks/results/<name>.json`` and ``docs/benchmarks/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "rows": rows, **(extra or {})}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else ("—" if v is None else str(v))  # noqa: E731
    lines = [f"# {title}", "", intro, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c)) for c in columns) + " |")
    m = payload["machine"]
    lines += ["", f"Measured {m['date']} on {m['cpu_count']} CPU cores, Python {m['python']}, numpy {m['numpy']}, torch {m['torch']}.",
              f"Raw numbers: `benchmarks/results/{name}.json`. Re-run: `.venv/bin/python benchmarks/{name}.py`."]
    (DOCS / f"{name}.md").write_text("\n".join(lines) + "\n")
