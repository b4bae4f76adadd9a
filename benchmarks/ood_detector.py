"""Out-of-distribution detection for ``graphops predict``: range checks against scikit-learn novelty detectors.

Question: does a novelty detector fitted on the training samples' descriptors
(LocalOutlierFactor with ``novelty=True``, IsolationForest) tell a prediction
that will be poor from one that will be fine better than the per-quantity range
checks of :func:`graphops.data.frame.ood_report`?

Protocol
--------
* Model: BENO trained like the demo (``python -m graphops.demo``: 4-cut-out
  squares, 160 samples, 20 epochs); reused from ``benchmarks/.runs/real_parts_demo``
  (trained there when missing; the same checkpoint as ``benchmarks/real_parts.py``).
* Held-out cases, each predicted with :func:`graphops.predict` (rescaling on)
  and compared with the FEM solution of the same inputs:
  the demo's test samples (0..4 cut-outs) as they are; the same samples
  stretched in y by 0.8 and 0.5 (aspect 1.25 and 2); new samples meshed
  finer (0.02) and coarser (0.08) than training (0.04); the test samples
  with the source 4x larger (the balance between source and boundary values
  changes; the linear amplitude scaling divides both by one factor and cannot
  undo it); the shipped demo shapes.
* Label: a case is *poor* when its relative L2 error exceeds twice the median
  error of the unmodified test samples.
* Detectors: ``range`` (any quantity outside its training range, the library's
  report), ``lof`` (LocalOutlierFactor, 20 neighbours, novelty mode) and
  ``iforest`` (IsolationForest, 200 trees, seed 0), both on the standardised
  descriptors of the training samples stored in the checkpoint (node count as
  a logarithm).
* Scores: flagged share of poor cases (recall), of fine cases (false alarms),
  and balanced accuracy (mean of recall and 1 - false-alarm rate), over all
  cases and over the shape cases only (without the source-4x group), and the
  share of unmodified test samples flagged (a detector should stay quiet there).

Run: .venv/bin/python benchmarks/ood_detector.py [--quick]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, write_report  # noqa: E402

RUNS = ROOT / "benchmarks" / ".runs"
DEMO = RUNS / "real_parts_demo"
#: Descriptors the novelty detectors see (those the range check uses).
FEATURES = ("num_nodes", "element_size", "boundary_share", "aspect", "extent_x", "extent_y",
            "f.min", "f.max", "g.min", "g.max", "f.absmax/g.absmax")
#: Cases that change the inputs rather than the shape.
INPUT_GROUPS = ("source 4x",)


def demo_dir(quick: bool) -> Path:
    """Where the demo model lives (a smoke run trains its own tiny one beside it)."""
    return DEMO.with_name(DEMO.name + "_quick") if quick else DEMO


def demo_checkpoint(quick: bool) -> Path:
    """The demo BENO checkpoint, trained into ``benchmarks/.runs/real_parts_demo`` when missing."""
    best = demo_dir(quick) / "beno" / "best.pt"
    if not best.exists():
        from graphops.demo import run_demo

        if quick:
            run_demo(demo_dir(quick), n_train=16, n_test_per_family=2, epochs=1, meshes=[])
        else:
            run_demo(demo_dir(quick), meshes=[])
    return best


def _vector(descriptors: Dict[str, float]) -> np.ndarray:
    d = dict(descriptors)
    d["f.absmax/g.absmax"] = d["f.absmax"] / max(d["g.absmax"], 1e-300)
    values = [float(d[name]) for name in FEATURES]
    values[0] = np.log(values[0])
    return np.asarray(values)


def fit_detectors(frame) -> Dict[str, Any]:
    """LOF and IsolationForest on the standardised training descriptors of a frame."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor

    train = np.stack([_vector({k: v[i] for k, v in frame.descriptors.items()}) for i in range(frame.num_samples)])
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.maximum(std, 1e-3 * np.abs(mean) + 1e-9)  # constant features (every training square has extent 1)
    scaled = (train - mean) / std
    lof = LocalOutlierFactor(n_neighbors=min(20, len(train) - 1), novelty=True).fit(scaled)
    forest = IsolationForest(n_estimators=200, random_state=0).fit(scaled)
    return {"mean": mean, "std": std, "lof": lof, "iforest": forest}


def cases(quick: bool) -> List[Dict[str, Any]]:
    """Held-out (mesh, f, g, group) cases."""
    from graphops.data import MeshDataset
    from graphops.data.fields import random_boundary, random_source
    from graphops.data.problems import get_problem
    from graphops.io import read_mesh
    from graphops.mesh import Mesh

    test = MeshDataset(demo_dir(quick) / "data" / "test")
    count = 4 if quick else len(test)
    out: List[Dict[str, Any]] = []
    for i in range(count):
        raw = test.raw_sample(i)
        mesh = Mesh(raw["points"], {"triangle": raw["cells"]})
        out.append({"group": "test samples", "mesh": mesh, "f": raw["f"], "g": raw["g"]})
        for stretch in (0.8, 0.5):
            squeezed = Mesh(raw["points"] * [1.0, stretch], {"triangle": raw["cells"]})
            out.append({"group": f"stretched y x{stretch}", "mesh": squeezed, "f": raw["f"], "g": raw["g"]})
        out.append({"group": "source 4x", "mesh": mesh, "f": 4 * raw["f"], "g": raw["g"]})
    for size in (0.02, 0.08):
        problem = get_problem("poisson-dirichlet", mesh_size=size)
        for seed in range(2 if quick else 8):
            s = problem.sample(seed, 1000 + seed)
            mesh = Mesh(s["points"], {"triangle": s["cells"]})
            out.append({"group": f"mesh size {size}", "mesh": mesh, "f": s["f"], "g": s["g"]})
    rng = np.random.default_rng(0)
    for path in sorted((ROOT / "meshes").glob("*.geo")):
        mesh = read_mesh(path)
        if mesh.geometric_dim != 2:
            continue
        lo, hi = mesh.bounding_box()
        side = float((hi - lo).max())
        box = (lo, lo + side)
        f = random_source(rng, *box)(mesh.points.T) / side**2  # the unit-box field, at the part's size
        g = random_boundary(rng, *box)(mesh.points.T)
        out.append({"group": f"shipped {path.name}", "mesh": mesh, "f": f, "g": g})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    from graphops.predict import model_frame, predict, problem_of, training_problem
    from graphops.train.checkpoint import load_model

    ckpt = demo_checkpoint(args.quick)
    _, _, meta = load_model(ckpt)
    frame = model_frame(meta, ckpt, training_problem(meta, problem_of(meta, ckpt)["problem"])[0])
    detectors = fit_detectors(frame)
    results = []
    for case in cases(args.quick):
        res = predict(ckpt, case["mesh"], source=case["f"], boundary=case["g"], compare_fem=True, png=False)
        x = (_vector(res.report.descriptors) - detectors["mean"]) / detectors["std"]
        results.append({
            "group": case["group"], "nodes": case["mesh"].num_points, "relative_l2": res.relative_l2,
            "range": bool(res.report.outside),
            "lof": bool(detectors["lof"].predict(x[None])[0] == -1),
            "iforest": bool(detectors["iforest"].predict(x[None])[0] == -1),
            "flagged_by_range": [e["quantity"] for e in res.report.outside],
        })
    reference = float(np.median([r["relative_l2"] for r in results if r["group"] == "test samples"]))
    threshold = 2 * reference
    for r in results:
        r["poor"] = bool(r["relative_l2"] > threshold)
    def score(name: str, members: List[Dict[str, Any]]) -> Dict[str, Any]:
        poor = [r[name] for r in members if r["poor"]]
        fine = [r[name] for r in members if not r["poor"]]
        recall = float(np.mean(poor)) if poor else None
        false_alarm = float(np.mean(fine)) if fine else None
        balanced = None if recall is None or false_alarm is None else (recall + 1 - false_alarm) / 2
        unmodified = [r[name] for r in members if r["group"] == "test samples"]
        return {"recall": recall, "false_alarm": false_alarm, "balanced_accuracy": balanced,
                "flags_on_test_samples": float(np.mean(unmodified)) if unmodified else None}

    shapes = [r for r in results if r["group"] not in INPUT_GROUPS]
    scores = {name: score(name, results) for name in ("range", "lof", "iforest")}
    shape_scores = {name: score(name, shapes) for name in ("range", "lof", "iforest")}
    groups = sorted({r["group"] for r in results}, key=[r["group"] for r in results].index)
    rows = []
    for group in groups:
        members = [r for r in results if r["group"] == group]
        rows.append({
            "cases": group, "n": len(members),
            "median rel L2": float(np.median([r["relative_l2"] for r in members])),
            "poor": sum(r["poor"] for r in members),
            "range flags": sum(r["range"] for r in members),
            "LOF flags": sum(r["lof"] for r in members),
            "IsolationForest flags": sum(r["iforest"] for r in members),
        })
    for name, label in (("range", "range"), ("lof", "LOF"), ("iforest", "IsolationForest")):
        for which, table in (("all cases", scores), ("shape cases only", shape_scores)):
            s = table[name]
            rows.append({"cases": f"**{label}**, {which}: recall {s['recall']:.2f}, false alarms "
                                  f"{s['false_alarm']:.2f}, balanced accuracy {s['balanced_accuracy']:.3f}, "
                                  f"flags on unmodified test samples {s['flags_on_test_samples']:.2f}"})
    best = max(shape_scores, key=lambda k: shape_scores[k]["balanced_accuracy"] or 0.0)
    title = ("Smoke run: " if args.quick else "") + "Out-of-distribution detection: range checks vs novelty detectors"
    intro = (
        f"BENO trained like the demo; each held-out case predicted with `graphops.predict` (rescaling on) and "
        f"compared with FEM. A case is *poor* when its relative L2 error exceeds {threshold:.3f} (twice the median "
        f"of the unmodified test samples, {reference:.3f}). Flags: `range` = any quantity outside its training range "
        f"(the library's report); LOF and IsolationForest fitted on the {frame.num_samples} training samples' "
        f"descriptors ({', '.join(FEATURES)}). Best balanced accuracy on the shape cases: **{best}**. "
        "Protocol: the docstring of `benchmarks/ood_detector.py`."
    )
    quiet = {k: shape_scores[k]["flags_on_test_samples"] for k in shape_scores}
    intro += (
        f"\n\n**Kept: {'the range checks' if best == 'range' else best}.** On the shape cases the range checks reach a "
        f"balanced accuracy of {shape_scores['range']['balanced_accuracy']:.3f} (LOF "
        f"{shape_scores['lof']['balanced_accuracy']:.3f}, IsolationForest {shape_scores['iforest']['balanced_accuracy']:.3f}) "
        f"and flag {quiet['range']:.0%} of the unmodified test samples, against {quiet['lof']:.0%} (LOF) and "
        f"{quiet['iforest']:.0%} (IsolationForest): a detector that warns on a third of the data the model handles well "
        "teaches users to ignore warnings. The range checks also name the quantity and both ranges, which a novelty "
        "score cannot. No detector predicts the error well (every balanced accuracy is far from 1): a warning means "
        "'unlike the training data', not 'wrong'."
    )
    write_report("ood_detector", title, intro,
                 ["cases", "n", "median rel L2", "poor", "range flags", "LOF flags", "IsolationForest flags"], rows,
                 extra={"threshold": threshold, "reference_median": reference, "scores": scores,
                        "shape_scores": shape_scores, "best": best,
                        "cases": results, "checkpoint": str(ckpt)})
    print(f"threshold {threshold:.4f}; scores {scores}; shape scores {shape_scores}; best {best}")


if __name__ == "__main__":
    main()
