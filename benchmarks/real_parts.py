"""Predict on real parts at their native coordinates: rescaling into the training frame vs moving them by hand.

Question: does ``graphops predict`` give, on meshes from public projects that
were not written for graphops (gmsh tutorials and benchmarks, CAD parts), at
their own coordinates and units, the accuracy the model has on the same meshes
moved into the unit box by hand? And does the out-of-distribution report flag
the meshes the model's training did not cover?

Protocol
--------
* Models: for 2D parts, BENO trained on Poisson with Dirichlet data on the
  cut-out domains stretched to proportions 1..2.5 and meshed at element sizes
  0.018..0.07 (``--checkpoint``, default ``benchmarks/.runs/beno-parts2d/best.pt``,
  produced by the commands at the top of
  ``examples/configs/beno-poisson-parts-2d.yaml``, about 15 minutes on two CPU
  cores; ``--checkpoint demo`` takes the demo's model, trained on unit squares
  only, into ``benchmarks/.runs/real_parts_demo`` when missing). For 3D solid parts, BENO trained on 3D Poisson with
  Dirichlet data (unit boxes with 0-4 vertical through-holes), ``--checkpoint-3d``
  (default ``benchmarks/.runs/beno3d/best.pt``), produced by the commands at
  the top of ``examples/configs/beno-poisson-3d.yaml`` (about 20 minutes on two
  CPU cores). Without it the 3D parts are refused with a one-line error.
* Meshes: the list in ``benchmarks/real_parts_sources.json`` (where each file
  comes from: repository, path, commit), fetched and cached by
  ``benchmarks/real_parts_meshes.py``. CAD files are meshed by gmsh on reading.
* The same physical problem on each part: with ``L`` the longest side of the
  part's bounding box and ``lo`` its lower corner, ``xi = (x - lo) / L``, the
  demo's source and boundary functions of ``xi`` (``graphops.demo``; in 3D
  ``SOURCE_3D`` and ``BOUNDARY_3D`` below, of the same kind as the 3D training
  data), the source divided by ``L^2``. Written as formulas in the part's own
  ``x, y(, z)``.
* Three predictions per part, each with ``--compare-fem`` (relative L2 against
  the FEM solution of its own inputs):
  ``native``: the file as it is, formulas in its coordinates, rescaling on (the default);
  ``by hand``: points moved to ``xi`` by hand, the demo formulas, ``--no-rescale``;
  ``native, no rescale``: the file as it is with ``--no-rescale`` (what the
  library did before the training frame was stored).
* Verdict per part: *covered* when the OOD report has no warning; then native
  and by-hand errors must agree within 1.5x. A part that is not covered must be
  flagged (it is, by definition); its errors are reported all the same.
  Parts no model can take (a surface mesh in 3D is not a volume; 3D solids
  when no 3D checkpoint is given) are refused with a one-line error, which
  counts as flagged.

Run: .venv/bin/python benchmarks/real_parts.py [--quick] [--only NAME ...]
[--checkpoint 2D.pt] [--checkpoint-3d 3D.pt]. ``--only`` reruns the named parts
and keeps the other rows of the last run made with the same checkpoints.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, write_report  # noqa: E402
from ood_detector import demo_checkpoint  # noqa: E402

SOURCES = ROOT / "benchmarks" / "real_parts_sources.json"
OUT = ROOT / "benchmarks" / ".runs" / "real_parts"
AGREE = 1.5
#: 3D source and boundary data in the unit box: Gaussian bumps plus a low-frequency wave, and a
#: quadratic plus a one-period wave (the families of ``graphops.data.fields`` the 3D model was trained on).
SOURCE_3D = ("8*exp(-((x-0.3)**2 + (y-0.7)**2 + (z-0.5)**2)/0.02) - 6*exp(-((x-0.7)**2 + (y-0.3)**2 + (z-0.4)**2)/0.03)"
             " + 2*cos(2*pi*x)")
BOUNDARY_3D = "0.5 + x - y**2 + 0.5*x*z + 0.3*sin(2*pi*(x + y + z))"
DEFAULT_3D = ROOT / "benchmarks" / ".runs" / "beno3d" / "best.pt"
DEFAULT_2D = ROOT / "benchmarks" / ".runs" / "beno-parts2d" / "best.pt"
#: Held-out test sets of the default checkpoints (the model's own accuracy, printed beside the parts').
TEST_SETS = {DEFAULT_2D: ROOT / "benchmarks" / ".data" / "parts2d-test",
             DEFAULT_3D: ROOT / "benchmarks" / ".data" / "beno3d-test-h0.25"}


def _in_unit_coordinates(formula: str, lo: np.ndarray, length: float) -> str:
    """``formula`` in xi = (x - lo) / L, rewritten as a formula in x, y (and z for a 3D ``lo``)."""
    names = "xyz"[: len(lo)]
    subs = {c: f"(({c} - ({float(lo[i])!r})) / {float(length)!r})" for i, c in enumerate(names)}
    return re.sub(rf"\b([{names}])\b", lambda m: subs[m.group(1)], formula)


def load_parts() -> List[Dict[str, Any]]:
    """The entries of ``real_parts_sources.json`` with their cached files (``benchmarks/real_parts_meshes.py``)."""
    import real_parts_meshes

    parts = []
    for item in real_parts_meshes.sources():
        try:
            path = real_parts_meshes.mesh_path(item["name"])
        except real_parts_meshes.RealPartsMissing as exc:
            raise SystemExit(str(exc)) from None
        parts.append({**item, "file": path, "source": f"{item['repo']}:{item['path']}@{item['commit'][:10]}",
                      "kind": "; ".join(item.get("exercises", [])[:1])})
    return parts


def run_part(checkpoints: Dict[int, Path], part: Dict[str, Any], out: Path) -> Dict[str, Any]:
    from graphops.demo import DEMO_BOUNDARY, DEMO_SOURCE
    from graphops.errors import GraphopsError
    from graphops.io import read_mesh
    from graphops.mesh import Mesh
    from graphops.predict import predict

    row: Dict[str, Any] = {"part": part["name"], "kind": part.get("kind", ""), "source": part.get("source", "")}
    start = time.perf_counter()
    try:
        mesh = read_mesh(part["file"], **part.get("read_options", {}))
    except GraphopsError as exc:
        row.update(verdict="unreadable", error=str(exc))
        return row
    lo, hi = mesh.bounding_box()
    length = float((hi - lo).max())
    row.update(nodes=mesh.num_points, cells=", ".join(sorted(mesh.volume_cells())), dim=mesh.geometric_dim,
               extent=" x ".join(f"{v:.4g}" for v in hi - lo), centre=" , ".join(f"{v:.4g}" for v in (lo + hi) / 2))
    unit_source, unit_boundary = (SOURCE_3D, BOUNDARY_3D) if mesh.geometric_dim == 3 else (DEMO_SOURCE, DEMO_BOUNDARY)
    source = f"({_in_unit_coordinates(unit_source, lo, length)}) / {float(length)**2!r}"
    boundary = _in_unit_coordinates(unit_boundary, lo, length)
    ckpt = checkpoints.get(mesh.geometric_dim)
    if ckpt is None or not ckpt.exists():
        row.update(verdict="refused (flagged)", flagged=True,
                   error=f"no {mesh.geometric_dim}D checkpoint (--checkpoint-3d; see examples/configs/beno-poisson-3d.yaml)")
        return row
    row["model"] = f"{mesh.geometric_dim}D"
    try:
        native = predict(ckpt, mesh, source=source, boundary=boundary, compare_fem=True,
                         out=out / f"{part['name']}.vtu", png=False)
    except GraphopsError as exc:  # only the dimension check counts as a flag; anything else is a failure
        refused = ("D meshes" in str(exc) and "was trained on" in str(exc)) or "solved in a volume" in str(exc)
        row.update(verdict="refused (flagged)" if refused else "ERROR", error=str(exc), flagged=refused)
        return row
    hand_mesh = Mesh((mesh.points - lo) / length, dict(mesh.cells), groups=dict(mesh.groups), source=mesh.source)
    hand = predict(ckpt, hand_mesh, source=unit_source, boundary=unit_boundary, compare_fem=True, rescale=False)
    raw = predict(ckpt, mesh, source=source, boundary=boundary, compare_fem=True, rescale=False)
    ratio = native.relative_l2 / hand.relative_l2
    covered = not native.report.outside
    agree = 1 / AGREE <= ratio <= AGREE
    row.update(
        native=native.relative_l2, by_hand=hand.relative_l2, no_rescale=raw.relative_l2, ratio=ratio,
        scale=native.scale, covered=covered, flagged=not covered,
        warnings=native.report.warnings, ood=", ".join(e["quantity"] for e in native.report.outside) or "none",
        verdict=("covered, agree" if agree else "covered, DISAGREE") if covered else
                ("flagged, agree anyway" if agree else "flagged"),
        seconds=time.perf_counter() - start,
    )
    return row


def _describe(ckpt: Path) -> str:
    """One line on a checkpoint: its file, training data, model options that differ from today's defaults, epoch, val error."""
    shown = _relative(ckpt)
    if not ckpt.exists():
        return f"no checkpoint at `{shown}` (refused)"
    import inspect

    from graphops.models.beno import BENO
    from graphops.train.checkpoint import load_checkpoint

    meta = load_checkpoint(ckpt)
    config = meta["model_config"]
    defaults = {k: v.default for k, v in inspect.signature(BENO.__init__).parameters.items() if k != "self"}
    differ = {k: v for k, v in config.items() if k in defaults and k != "dim" and defaults[k] != v}
    data = meta.get("run_config", {}).get("data", {})
    val = meta.get("metrics", {}).get("best_score")
    test = _test_error(ckpt)
    return (f"`{shown}` (trained on `{data.get('root')}`, families {data.get('train_families')}, epoch {meta.get('epoch')}"
            + (f", best val rel L2 {val:.3f}" if isinstance(val, float) else "")
            + (f", median rel L2 {test[0]:.3f} on its {test[1]} held-out test samples (`{test[2]}`)" if test else "")
            + (f"; options differing from today's BENO defaults: {differ}" if differ else "; today's BENO defaults")
            + ")")


def _relative(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (for the report), else as given."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _previous_rows(checkpoints: Dict[int, Path]) -> Dict[str, Dict[str, Any]]:
    """Rows of the last results file by part name, when it was made with the same two checkpoints (else none)."""
    path = ROOT / "benchmarks" / "results" / "real_parts.json"
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if (previous.get("checkpoint"), previous.get("checkpoint_3d")) != (str(checkpoints[2]), str(checkpoints[3])):
        return {}
    return {r["part"]: r for r in previous.get("rows", [])}


def _test_error(ckpt: Path):
    """``(median relative L2, samples, folder)`` of a default checkpoint on its held-out test set, or None."""
    folder = TEST_SETS.get(ckpt.resolve()) if ckpt.exists() else None
    if folder is None or not folder.exists():
        return None
    from graphops.train.evaluate import evaluate

    samples = evaluate(ckpt, folder, progress=False)["samples"]
    errors = [float(s["rel_l2"]) for s in samples]
    return float(np.median(errors)), len(errors), folder.relative_to(ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model (smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="part names to run")
    parser.add_argument("--checkpoint", default=str(DEFAULT_2D),
                        help="2D BENO checkpoint (examples/configs/beno-poisson-parts-2d.yaml; default %(default)s), "
                             "or 'demo': the demo's model, trained into benchmarks/.runs when missing")
    parser.add_argument("--checkpoint-3d", type=Path, default=DEFAULT_3D,
                        help="3D BENO checkpoint (examples/configs/beno-poisson-3d.yaml; default %(default)s)")
    args = parser.parse_args()

    ckpt = demo_checkpoint(args.quick) if args.quick or args.checkpoint == "demo" else Path(args.checkpoint)
    checkpoints = {2: ckpt, 3: args.checkpoint_3d}
    OUT.mkdir(parents=True, exist_ok=True)
    all_parts = load_parts()
    parts = [p for p in all_parts if args.only is None or p["name"] in args.only]
    fresh = {}
    for part in parts:
        row = run_part(checkpoints, part, OUT)
        print(json.dumps({k: v for k, v in row.items() if k != "warnings"}), flush=True)
        fresh[part["name"]] = row
    # --only reruns some parts and keeps the others' rows from the last run with the same checkpoints
    kept = _previous_rows(checkpoints) if args.only else {}
    rows = [fresh.get(p["name"], kept.get(p["name"])) for p in all_parts]
    rows = [r for r in rows if r is not None]
    ok = all(r.get("flagged") or r.get("verdict") == "covered, agree" for r in rows)
    described = {dim: _describe(c) for dim, c in checkpoints.items()}  # evaluates each model once
    title = ("Smoke run: " if args.quick else "") + "Real parts at native coordinates"
    intro = (
        "BENO predicts on meshes from public projects at their own coordinates and units (`native`: rescaled into "
        "the training frame, the default), on the same meshes moved into the unit box by hand (`by hand`, "
        "`--no-rescale`) and at native coordinates without rescaling (`no rescale`: the library before the training "
        "frame). 2D parts: " + described[2] + ". 3D solid parts: " + described[3] + ". "
        "Relative L2 against the FEM solution of the same inputs. *covered*: the out-of-distribution report has no "
        f"warning; `ood` lists what it flagged. Goal: native and by hand within {AGREE}x on every covered part, every "
        f"other part flagged: **{'met' if ok else 'NOT met'}**. Sources: `benchmarks/real_parts_sources.json`; "
        "protocol: the docstring of `benchmarks/real_parts.py`."
    )
    for dim in (2, 3):
        done = [r for r in rows if r.get("ratio") is not None and r.get("model") == f"{dim}D"]
        if not done:
            continue
        worst = max(done, key=lambda r: max(r["ratio"], 1 / r["ratio"]))
        intro += (
            f"\n\nOn the {len(done)} parts the {dim}D model took, the native error is within "
            f"{max(worst['ratio'], 1 / worst['ratio']):.2f}x of the by-hand error (worst: {worst['part']}); without "
            f"rescaling it is up to {max(r['no_rescale'] / r['native'] for r in done):.1f}x larger "
            f"(median native {np.median([r['native'] for r in done]):.3f}, by hand "
            f"{np.median([r['by_hand'] for r in done]):.3f}, no rescale {np.median([r['no_rescale'] for r in done]):.3f})."
        )
    covered = [r for r in rows if r.get("covered")]
    if covered:
        intro += (
            f"\n\nCovered parts ({', '.join(r['part'] for r in covered)}): native relative L2 "
            + ", ".join(f"{r['native']:.3f}" for r in covered)
            + "; compare with the 2D model's own median on its held-out test samples above."
        )
    intro += (
        "\n\nWhy native and by hand agree to the last digits: the training frame puts a part where the training "
        "geometries line up (here every training domain starts at the origin, so the part's lower corner goes there) "
        "and scales its longest side onto the training geometries' typical longest side (1 here), which is what moving "
        "it into the unit box by hand does. The `no rescale` column is what the library did before the frame was "
        "stored."
    )
    intro += (
        "\n\nA part flagged only by node count or element size is one the model may still handle; the flags say the "
        "model was not trained on such meshes, not that the prediction is wrong. Refused parts get a one-line error "
        "(a surface mesh is not a volume)."
    )
    errors = [r for r in rows if r.get("verdict") == "ERROR"]
    if errors:
        intro += " Failed: " + "; ".join(f"{r['part']} ({r['error']})" for r in errors) + "."
    columns = ["part", "kind", "model", "nodes", "cells", "extent", "scale", "native", "by_hand", "ratio", "no_rescale",
               "covered", "ood", "verdict"]
    write_report("real_parts", title, intro, columns, rows, extra={"goal_met": ok, "checkpoint": str(ckpt), "checkpoint_3d": str(checkpoints[3]),
                                                             "models": described})
    print(f"goal {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
