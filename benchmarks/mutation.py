"""Mutation check of the numerics modules with mutmut: how many seeded bugs the tests miss.

mutmut (https://github.com/boxed/mutmut) rewrites each function of a module into many
small variants ("mutants": ``+`` -> ``-``, ``<`` -> ``<=``, a constant changed, a call
argument dropped...) and runs the tests that reach that function against every variant.
A mutant that no test fails "survives": either the tests have a hole there, or the
change makes no observable difference (an equivalent mutant).

Every target runs in its own scratch copy of the working tree (the checkout itself is
never modified) and only against its own fast test files, so the whole run takes
minutes, not hours. Survivors are listed by name in the JSON; ``--show NAME`` prints the
diff of one of them (run it inside the scratch folder printed at the end).

Writes ``benchmarks/results/mutation.json`` and the table in
``docs/benchmarks/mutation.md``.

Run: ``make mutate`` (or ``.venv/bin/python benchmarks/mutation.py [--only NAME] [--jobs 2]``).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, RESULTS, ROOT, machine  # noqa: E402

# name -> (modules to mutate, the fast test files that exercise them)
TARGETS: Dict[str, tuple] = {
    "metrics": (["graphops/train/metrics.py"], ["tests/train/test_metrics.py"]),
    "normaliser": (["graphops/train/normalize.py"], ["tests/train/test_normalize.py", "tests/train/test_normalize_values.py"]),
    "boundary": (["graphops/boundary.py"], ["tests/test_boundary.py", "tests/test_boundary_oracles.py",
                                            "tests/test_boundary_exact_geometry.py"]),
    "decomposition": (["graphops/decomposition/kdtree.py"], ["tests/decomposition/test_kdtree.py",
                                                          "tests/decomposition/test_kdtree_by_hand.py"]),
    "elasticity": (["graphops/solvers/elasticity.py"], ["tests/solvers/test_elasticity.py",
                                                        "tests/solvers/test_elasticity_defaults.py"]),
    "poisson": (["graphops/solvers/poisson.py"], ["tests/solvers/test_poisson.py", "tests/solvers/test_poisson_defaults.py"]),
    "model heads": (["graphops/models/layers.py"], ["tests/models/test_layers.py", "tests/models/test_meshgraphnet.py",
                                                    "tests/models/test_permutation.py"]),
}

# Mutants judged harmless after reading their diff: name -> reason. They still count as
# survivors in the JSON (nothing is hidden), but are reported as explained.
_EMPTY = "only differs for a prediction with no nodes, which already fails earlier (reshape of an empty tensor)"
_SCATTER = "torch_geometric's scatter infers the same size (largest graph index + 1) and dim -1 is dim 0 of a 1D tensor"
EXPLAINED: Dict[str, str] = {
    "graphops.train.metrics.x_mae_per_graph__mutmut_29": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_31": _EMPTY,
    "graphops.train.metrics.x_mae_per_graph__mutmut_35": _EMPTY,
    "graphops.train.metrics.x_mae_per_graph__mutmut_39": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_43": _SCATTER,
    "graphops.train.metrics.x_mae_per_graph__mutmut_44": _SCATTER,
    "graphops.train.metrics.xǁMetricAccumulatorǁadd__mutmut_19":
        "list() of a tensor gives 0-d tensors, and int() of those is the same as int() of tolist()'s numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_26":
        "reshape(N, -1) of an (N,) field is the same (N, 1) column as reshape(-1, 1)",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_34":
        "reshape(N, -1) of an (N,) field is the same (N, 1) column as reshape(-1, 1)",
    "graphops.train.normalize.xǁFieldNormalizerǁfit__mutmut_88":
        "> vs >= 1e-12 differs only for an RMS of exactly 1e-12",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_3":
        "the stored scale is float32; dividing a float64 field by it promotes it exactly, the same numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_5":
        "the stored scale is float32; dividing a float64 field by it promotes it exactly, the same numbers",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_7":
        "a (1,) scale broadcasts over an (N,) field exactly like the 0-d scale",
    "graphops.train.normalize.xǁFieldNormalizerǁ_scale_for__mutmut_8":
        "a (1,) scale broadcasts over an (N,) field exactly like the 0-d scale",
}

# boundary.py
_B = "graphops.boundary."
_SCALED_NORMAL = ("rescales a facet normal by a positive factor; its only caller (_normals_from) divides every "
                  "facet normal by its length first, so only the direction counts")
_PLANAR_QUAD = ("another pair of in-plane vectors of a planar quad: the cross product is parallel to the same normal, "
                "the flip that follows orients it, and only its direction is used")
_QUAD_SPLIT = ("a planar convex quad split into two other triangles of its four corners still covers exactly the quad, "
               "so the nearest point on it is the same")
_INSIDE_EDGE = ("only differs for a projection exactly on an edge of the triangle (v = 0, w = 0 or v + w = 1), where "
                "the edge search returns that same point")
_SAME_SHAPE = ("the projection always has the corners' shape (p broadcasts against the (M, k, 3) normals), so the "
               "broadcast branch is never taken and both branches copy the same array")
_WORKERS = "number of threads of the KD-tree query only: the same neighbours"
_DEFAULT_K = ("one more candidate facet or one more point per chunk: the nearest point is the same, found among "
              "more candidates / in a slightly larger block")
_UNINIT = ("np.divide without out= leaves the rows with where=False uninitialised instead of zero; the fresh "
           "allocation was zeroed memory in every run, so no test can see it deterministically (tests assert those "
           "rows are exactly 0)")
EXPLAINED.update({
    _B + "x__boundary_facets_with_owner__mutmut_33": "np.sort's default axis is the last one, axis 1 of an (F, k) array",
    _B + "x__boundary_facets_with_owner__mutmut_48": "alone starts all True, so alone[1:] &= differs is alone[1:] = differs",
    **{_B + f"x__closest_on_triangles__mutmut_{i}": _INSIDE_EDGE for i in (82, 84, 87)},
    **{_B + f"x__closest_on_triangles__mutmut_{i}": _SAME_SHAPE for i in (90, 91, 92, 93, 94, 95, 96)},
    **{_B + f"x__distances_from__mutmut_{i}": _QUAD_SPLIT for i in (27, 28)},
    _B + "x__distances_from__mutmut_52": ("step 1 instead of chunk: overlapping blocks that each recompute the same "
                                          "rows identically (slower, same numbers)"),
    **{_B + f"x__distances_from__mutmut_{i}": _WORKERS for i in (59, 62, 63)},
    **{_B + f"x__distances_from__mutmut_{i}": _UNINIT for i in (122, 126)},
    **{_B + f"x__normals_from__mutmut_{i}": _UNINIT for i in (53, 57)},
    **{_B + f"x__facet_normals__mutmut_{i}": _SCALED_NORMAL for i in (41, 42, 48, 51, 55, 61, 74, 94)},
    _B + "x__facet_normals__mutmut_71": "cross(b - a, c - b) = cross(b - a, c - a) - cross(b - a, b - a) = cross(b - a, c - a)",
    **{_B + f"x__facet_normals__mutmut_{i}": _PLANAR_QUAD for i in (80, 81, 84)},
    _B + "x__facet_normals__mutmut_89": ("a zero dot product needs a degenerate facet lying in the plane of its own "
                                         "cell's centroid"),
    _B + "x__facet_normals__mutmut_92": "dividing by -1.0 is multiplying by -1.0",
    _B + "x_boundary_features__mutmut_1": _DEFAULT_K,
    _B + "x_boundary_features__mutmut_24": _DEFAULT_K,
    _B + "x_distance_to_boundary__mutmut_1": _DEFAULT_K,
    _B + "x_distance_to_boundary__mutmut_2": _DEFAULT_K,
    **{_B + f"x_distance_to_boundary__mutmut_{i}": ("integer query points are promoted to float64 by the first "
                                                    "arithmetic with the float64 mesh points: the same numbers")
       for i in (17, 19)},
    _B + "x__distances_from__mutmut_129": "differs only for a distance of exactly 1e-12 times the mesh diagonal",
    _B + "x_row_keys__mutmut_10": "differs only when num_nodes ** k is exactly 2**62",
    _B + "x_row_keys__mutmut_13": ("num_nodes ** k < 2**63 still fits: the largest key is num_nodes ** k - 1; the "
                                   "2**62 bound is only a safety margin"),
})

# solvers/elasticity.py
_E = "graphops.solvers.elasticity."
_SOLVER = ("spd / dim only choose between the sparse direct solver and Jacobi-preconditioned CG (relative "
           "residual 1e-12): the same solution to solver precision")
_QUAD_ORDER = ("quadrature order of the P1 projection: 2 * maxdeg is scikit-fem's own default for these bases, and "
               "the stress of a P1 solution is constant per cell, so any order >= 2 integrates it exactly")
_SAME_POINTS = ("the solution's basis already uses scikit-fem's default order 2 * maxdeg, the same quadrature points "
                "as the P1 basis built with intorder = 2 * maxdeg")
EXPLAINED.update({
    "graphops.solvers.poisson.x_solve_poisson__mutmut_7": (
        "default P2 instead of P1 in the convenience wrapper: a more accurate element for the same problem, whose "
        "values at the mesh nodes match P1's on every exact (linear) oracle; poisson_fem's own default is tested"),
    **{f"graphops.solvers.poisson.x_poisson_fem__mutmut_{i}": _SOLVER for i in (136, 137, 140, 141, 142)},
    "graphops.solvers.poisson.x_poisson_fem__mutmut_73": (
        "'rest' then also puts the Neumann flux on the Dirichlet facets; with Lagrange elements the basis functions "
        "that are nonzero on a facet have their DOFs on it, all Dirichlet DOFs, which condense removes: the same u"),
    "graphops.solvers.poisson.x_poisson_fem__mutmut_159": (
        "pure Neumann: the Lagrange multiplier of the mean constraint absorbs any multiple of `ones` in the "
        "right-hand side, so u is the same; only the multiplier changes"),
    **{f"graphops.solvers.poisson.x_poisson_fem__mutmut_{i}": (
        "sparse storage format only: solve_sparse converts to CSC before factorising") for i in (163, 165)},
    **{_E + f"x_elasticity_fem__mutmut_{i}": _SOLVER for i in (145, 146, 149, 150, 151)},
    **{_E + f"x_nodal_von_mises__mutmut_{i}": _SOLVER for i in (32, 33, 36, 37, 42)},
    **{_E + f"x_nodal_von_mises__mutmut_{i}": _QUAD_ORDER for i in (7, 10, 12, 13)},
    **{_E + f"x_nodal_von_mises__mutmut_{i}": _SAME_POINTS for i in (16, 18, 21, 24)},
    **{_E + f"x_nodal_von_mises__mutmut_{i}": ("every vertex of the scikit-fem mesh belongs to a cell (fem_mesh refuses nodes "
                                               "outside every cell), so bincount already has length nvertices")
       for i in (61, 77)},
    _E + "x_von_mises_at_quadrature__mutmut_19": "the strain tensor is d x d: shape[0] == shape[1]",
    **{_E + f"x_von_mises_at_quadrature__mutmut_{i}": "np.trace's default axes are axis1=0, axis2=1" for i in (25, 26)},
})

# models/layers.py
_L = "graphops.models.layers."
EXPLAINED.update({
    _L + "x_aggregate__mutmut_19": ("the count stays int64 instead of the messages' dtype; torch's / is true division "
                                    "and promotes it to the messages' floating dtype: the same numbers"),
    _L + "xǁMessagePassingBlockǁforward__mutmut_15": "torch.cat's default dim is 0, the dim it was given",
    _L + "xǁEncodeProcessDecodeǁ__init____mutmut_39": ("layer_norm=None instead of False: both are false, so the "
                                                       "decoder has no LayerNorm either way"),
})

# decomposition/kdtree.py
_K = "graphops.decomposition.kdtree."
_FLAT = ("on a flat axis (zero extent) there is one bin and every index is clipped into it, whatever the scale; "
         "the inner where only avoids a division by zero whose result the outer where discards")
_OUTSIDE = ("a candidate at or below the node's lowest point leaves no point on its left, one above its highest "
            "leaves none on its right, and the valid mask rejects both, so this filter changes nothing")
_LAST_SLAB = ("the highest point is >= every candidate, so slab K is never empty and bincount already has K + 1 "
              "entries; [:K] drops any extra one")
_TIE_TOL = ("only the width of the tolerance for equal scores (1e-12 relative): differs only for two candidate "
            "scores between 1e-12 and 2e-12 apart")
_PLACEHOLDER = ("placeholder for a node that is not split (yet): leaves are recognised by a negative left child "
                "and their axis, cut and right child are never read; a split overwrites all four")
_DTYPE_SAME = "numpy already gives this dtype without it (int64 from Python ints, float64 from floats): the same array"
_EMPTY_SIDE = ("only the histogram box of a child without points (possible on a sampled node): that child's score "
               "is forced to 0 and its block of bins stays empty")
_COUNT_BRANCH = "chooses between two exact ways of counting the histogram (dense bincount or np.unique): the same counts"
_HALO_FACE = ("a tie at the closed halo boundary: a point could be missed only if it lies exactly on a halo box's "
              "lower face and on its own leaf's upper face. Points are left of a cut strictly (x < cut), so that "
              "face must be the root box's upper boundary, and a halo can start there only for a leaf of zero width "
              "at the top (two points at adjacent floats) next to another leaf with points on that boundary; "
              "harmless for an overlap region, and not built by any test")
EXPLAINED.update({
    **{_K + f"x__bin_index__mutmut_{i}": _FLAT for i in (10, 19, 21, 22)},
    **{_K + f"x__split_scores__mutmut_{i}": _FLAT for i in (131, 140, 142, 143)},
    _K + "x__choose_split__mutmut_19": ("arange from 0 adds a candidate at the node's lowest point, which the next "
                                        "line filters out (cuts > tlo)"),
    **{_K + f"x__choose_split__mutmut_{i}": _OUTSIDE for i in (27, 28)},
    **{_K + f"x__choose_split__mutmut_{i}": _LAST_SLAB for i in (45, 46, 47)},
    _K + "x__choose_split__mutmut_70": "a node of exactly sample_size points: the 'sample' is all of them, sorted",
    _K + "x__choose_split__mutmut_74": "numpy's choice treats replace=None as false: the same sample",
    **{_K + f"x__choose_split__mutmut_{i}": (
        "a random sample drawn with replacement (a few repeats) instead of without, of the same size and seed; it "
        "only chooses which points score the candidate cuts of nodes over sample_size points, an estimate either way")
       for i in (77, 78)},
    **{_K + f"x__choose_split__mutmut_{i}": _TIE_TOL for i in (93, 95, 101)},
    _K + "x__choose_split__mutmut_117": ("differs only when the middle of the gap rounds to b, and then the fallback "
                                         "sets cut = b anyway"),
    _K + "x__halo_members__mutmut_6": ("`touches` is only a pre-filter: every point of a touched box is tested "
                                       "against the closed halo box, so testing more boxes adds no point"),
    _K + "x__halo_members__mutmut_11": _HALO_FACE,
    _K + "x_as_points__mutmut_24": "adds the letter X to the accepted dtype kinds; no numpy dtype has kind 'X'",
    _K + "x__split_scores__mutmut_31": "numpy reads the sort kind case-insensitively: the same stable sort",
    _K + "x__kl_from_counts__mutmut_2": "astype(None) is astype(float64)",
    **{_K + f"x__noise_floor__mutmut_{i}": "np.asarray of integer counts minus 1.0 is float64 anyway" for i in (8, 10)},
    _K + "x__noise_floor__mutmut_25": ("q only matters when k > 0, i.e. at least two occupied bins and so n >= 2, "
                                       "where max(n, 1) = max(n, 2)"),
    **{_K + f"x__split_scores__mutmut_{i}": ("dtype of the slab indices only (int16 or int64): the same order and "
                                             "counts for fewer than 32,000 cuts") for i in (14, 15, 16, 17)},
    **{_K + f"x__split_scores__mutmut_{i}": ("only the order of the points inside one slab changes (a non-stable "
                                             "sort); per-slab minima, maxima and histogram counts do not depend on it")
       for i in (27, 29)},
    **{_K + f"x__split_scores__mutmut_{i}": _EMPTY_SIDE for i in (85, 87, 93, 94, 100)},
    **{_K + f"x__split_scores__mutmut_{i}": _DTYPE_SAME for i in (111, 114, 245, 276)},
    _K + "x__split_scores__mutmut_158": ("one more trailing column of ones: the strides of the d axes are the same "
                                         "and the extra column is never read"),
    **{_K + f"x__split_scores__mutmut_{i}": "slice(None, s) and slice(s) are slice(0, s)" for i in (190, 192)},
    **{_K + f"x__split_scores__mutmut_{i}": _COUNT_BRANCH for i in range(226, 235)},
    **{_K + f"x__split_scores__mutmut_{i}": "minlength only pads the histogram with zeros, which flatnonzero drops"
       for i in (239, 240, 241)},
    **{_K + f"x__split_scores__mutmut_{i}": ("only for a child of 0 or 1 points, whose n log n term is 0 either way "
                                             "and whose score is forced to 0 (0 points) or is 0 (1 point: one bin)")
       for i in (289, 290, 291, 307, 308)},
    **{_K + f"x_default_bins__mutmut_{i}": "np.maximum with 0.0 promotes integer counts to float64 anyway"
       for i in (11, 13)},
    _K + "x_default_bins__mutmut_23": "n = 0 and n = 1 both give floor((n / 8) ** (1 / d)) = 0, clipped to 1",
    _K + "x_kdtree_decompose__mutmut_5": ("differs only for a node of exactly 32,769 points, whose sample then leaves "
                                          "out one point"),
    _K + "x_kdtree_decompose__mutmut_6": ("the default seed only picks which random sample scores the cuts of nodes "
                                          "over sample_size points; results stay reproducible for any fixed seed"),
    **{_K + f"x_kdtree_decompose__mutmut_{i}": _PLACEHOLDER
       for i in (105, 106, 108, 109, 110, 272, 273, 274, 277, 279, 280)},
    **{_K + f"x_kdtree_decompose__mutmut_{i}": ("the heap's tie-breaking counter only needs to grow in push order; "
                                                "any start, step or (with a constant) the node index, which grows in "
                                                "the same order, gives the same order") for i in (167, 211, 213)},
    **{_K + f"x_kdtree_decompose__mutmut_{i}": "placeholder overwritten on the next line (kl_of[i] = value)"
       for i in (171, 172)},
    _K + "x_kdtree_decompose__mutmut_287": "the point list of a split node is never read again; None or '' only frees it",
    **{_K + f"x_kdtree_decompose__mutmut_{i}": _DTYPE_SAME for i in (296, 299, 382, 384, 388, 390, 394, 396, 400, 402)},
    _K + "x_kdtree_decompose__mutmut_301": "leaves are found by leaf >= 0; -1 and -2 both mark inner nodes",
    **{_K + f"x_kdtree_decompose__mutmut_{i}": ("node 0 is the root and never a child, so a left child index is "
                                                "either -1 (a leaf) or >= 1") for i in (306, 307)},
    **{_K + f"x_kdtree_decompose__mutmut_{i}": ("stacklevel only chooses which caller line the warning names; the "
                                                "message and category are the same (and mutmut's trampoline adds a "
                                                "frame, so a test cannot pin it under mutmut)") for i in (376, 377)},
    _K + "x_kl_to_uniform__mutmut_19": "an integer box gives the same bins and counts after numpy's promotion",
    _K + "x_kl_to_uniform__mutmut_21": "an integer box gives the same bins and counts after numpy's promotion",
    _K + "xǁDecompositionǁcounts__mutmut_4": ("every subdomain owns at least one point (a valid cut leaves >= 1 on "
                                              "each side), so bincount already has num_subdomains entries"),
    **{_K + f"xǁDecompositionǁmember_counts__mutmut_{i}": _DTYPE_SAME for i in (2, 4)},
})


def _diff(work: Path, env: Dict[str, str], name: str) -> List[str]:
    """The changed lines (``-`` original, ``+`` mutant) of one mutant.

    Read from mutmut's rewritten module (``mutants/<module>.py`` holds every mutant as a
    function ``<name>__mutmut_<n>`` beside the original ``<name>__mutmut_orig``): much
    faster than ``mutmut show``, which starts a Python per mutant.
    """
    import difflib

    module, _, func = name.rpartition(".")
    path = work / "mutants" / (module.replace(".", "/") + ".py")
    if not path.exists():
        return []
    source_lines, functions = _parsed(str(path))
    wanted = {func, func.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"}
    found = {k: functions[k] for k in wanted if k in functions}
    if len(found) != 2:
        return []
    orig = found[func.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"]
    # the lines of a function from its line numbers (ast.get_source_segment re-splits the whole
    # module on every call: seconds per call on a module of a thousand mutants)
    lines = lambda n: source_lines[n.lineno - 1 : n.end_lineno]  # noqa: E731
    a, b = lines(orig), lines(found[func])
    base = func.rsplit("__mutmut_", 1)[0]
    head_a, head_b = a[0].replace(base + "__mutmut_orig", base), b[0].replace(func, base)
    diff = [line for line in difflib.ndiff([head_a] + a[1:], [head_b] + b[1:]) if line.startswith(("- ", "+ "))]
    return [line for line in diff if line[2:].strip()]


@functools.lru_cache(maxsize=8)
def _parsed(path: str):
    """A mutated module's lines and its top-level functions and methods by name (parsed once per module)."""
    import ast

    text = Path(path).read_text()
    functions = {}
    for node in ast.parse(text).body:  # mutmut's copies are module-level functions or class methods
        for n in [node] + (node.body if isinstance(node, ast.ClassDef) else []):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[n.name] = n
    return text.splitlines(), functions


def _code_tokens(line: str) -> List[str]:
    """The tokens of a line of code with every string literal replaced by a placeholder."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [line]
    return ["<str>" if t.type == tokenize.STRING else t.string for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE)]


def _without_device(line: str) -> str:
    line = re.sub(r"device=[^,)]*", "", line)
    line = re.sub(r",\s*,", ",", re.sub(r"\(\s*,", "(", re.sub(r",\s*\)", ")", line)))
    return line.replace(" ", "")


def classify(diff: List[str]) -> str | None:
    """A reason a survivor is harmless, for the kinds of change that are harmless by construction."""
    old = [line[2:] for line in diff if line.startswith("- ")]
    new = [line[2:] for line in diff if line.startswith("+ ")]
    if not old or len(old) != len(new):
        return None
    if all(_code_tokens(a) == _code_tokens(b) for a, b in zip(old, new)):
        return ("text of a message or label only (tests match error messages by their key words, "
                "not letter for letter)")
    if all(_without_device(a) == _without_device(b) for a, b in zip(old, new)):
        return "device placement only: differs on a GPU, and the tests run on CPU"
    return None


def _scratch_copy(dest: Path) -> None:
    """Copy the tracked and untracked-but-not-ignored files of the checkout into ``dest``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _write_config(dest: Path, modules: List[str], tests: List[str]) -> None:
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["graphops"]',
        f"only_mutate = {json.dumps(modules)}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]',
        "mutate_only_covered_lines = true",
        "use_git_change_detection = false",
        "timeout_multiplier = 5.0",
        "timeout_constant = 10.0",
    ]
    with open(dest / "pyproject.toml", "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _results(dest: Path) -> Dict[str, str]:
    """``{mutant name: status}`` read back from mutmut's ``.meta`` files."""
    from mutmut.stats import status_by_exit_code  # type: ignore[import-not-found]

    status: Dict[str, str] = {}
    for meta in (dest / "mutants").rglob("*.meta"):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            status[name] = status_by_exit_code[code] if code is not None else "not checked"
    return status


def run_target(name: str, modules: List[str], tests: List[str], jobs: int, keep: Path | None,
               time_limit: float | None = None) -> Dict:
    work = Path(tempfile.mkdtemp(prefix=f"graphops-mutation-{name.replace(' ', '_')}-", dir=keep))
    _scratch_copy(work)
    _write_config(work, modules, tests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut imports from its mutants/ copy
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    ran_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    start = time.perf_counter()
    stopped = False
    proc = subprocess.Popen(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=time_limit)
    except subprocess.TimeoutExpired:  # stop the whole mutmut process group; what it checked so far is kept
        stopped = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    seconds = time.perf_counter() - start
    status = _results(work)
    counts: Dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    survivors = sorted(k for k, s in status.items() if s == "survived")
    row = {
        "target": name,
        "modules": modules,
        "tests": tests,
        "mutants": len(status),
        "killed": counts.get("killed", 0),
        "survived": len(survivors),
        "timeout": counts.get("timeout", 0),
        "other": len(status) - counts.get("killed", 0) - len(survivors) - counts.get("timeout", 0),
        "seconds": round(seconds, 1),
        "survivors": [{"name": k, "diff": _diff(work, env, k)} for k in survivors],
        "scratch": str(work),
        "returncode": proc.returncode,
        "ran_at": ran_at,
    }
    unchecked = counts.get("not checked", 0)
    if stopped or unchecked:
        row["partial"] = True
        row["note"] = (f"partial: stopped after {seconds:.0f} s, {len(status) - unchecked} of {len(status)} mutants "
                       "checked; unchecked ones counted as other")
    row["explained"] = sum(1 for sv in row["survivors"] if EXPLAINED.get(sv["name"]) or classify(sv["diff"]))
    if proc.returncode != 0 and not status:
        row["error"] = (out or "")[-2000:]
    return row


def recheck_survivors(row: Dict, time_limit: float | None, resume: bool = False, jobs: int = 2) -> Dict:
    """Run a finished target's survivors again, in its scratch folder, against the checkout's current tests.

    The module under test is unchanged (the mutant names are those of the first run), so the
    mutants killed then stay killed; only the survivors are re-run, with the test files copied
    afresh from the checkout (mutmut collects which tests reach which function for new tests).
    With ``resume``, the mutants a stopped run never checked are run too (mutmut skips the ones
    that already have a result).
    """
    work = Path(row["scratch"])
    names = [s["name"] for s in row["survivors"]]
    runs = ([names] if names else []) + ([[]] if resume else [])
    for rel in subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z", "tests", "pyproject.toml"],
                              cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0"):
        if rel and (ROOT / rel).is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, work / rel)
    modules, tests = TARGETS[row["target"]]
    _write_config(work, modules, tests)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    start = time.perf_counter()
    for selected in runs:
        left = None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - start))
        proc = subprocess.Popen([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *selected], cwd=work,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            break
    row["tests"] = tests
    row["survivors_rechecked_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    row["seconds"] = round(row["seconds"] + time.perf_counter() - start, 1)
    return recollect(row)


def recollect(row: Dict) -> Dict:
    """Re-read a finished target's results and survivor diffs from its scratch folder (no re-run)."""
    work = Path(row["scratch"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    status = _results(work)
    survivors = sorted(k for k, s in status.items() if s == "survived")
    counts: Dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    row.update(mutants=len(status), killed=counts.get("killed", 0), survived=len(survivors),
               timeout=counts.get("timeout", 0),
               other=len(status) - counts.get("killed", 0) - len(survivors) - counts.get("timeout", 0),
               survivors=[{"name": k, "diff": _diff(work, env, k)} for k in survivors])
    unchecked = counts.get("not checked", 0)
    if unchecked:
        row["partial"] = True
        row["note"] = f"partial: {len(status) - unchecked} of {len(status)} mutants checked; unchecked ones counted as other"
    elif row.get("partial"):
        row.pop("partial")
        row.pop("note", None)
    return row


def write(rows: List[Dict]) -> None:
    """Write the JSON and the docs table; targets not run this time keep their previous row.

    Targets run by separate processes at the same time merge safely: the read-merge-write
    happens under an exclusive lock.
    """
    import fcntl

    with open(Path(tempfile.gettempdir()) / "graphops-mutation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write(rows)


def _write(rows: List[Dict]) -> None:
    path = RESULTS / "mutation.json"
    if path.exists():
        fresh = {r["target"] for r in rows}
        previous = [r for r in json.loads(path.read_text()).get("rows", []) if r["target"] not in fresh]
        rows = previous + rows
    present = {r["target"] for r in rows}
    for name, (modules, tests) in TARGETS.items():  # targets never run still get a row that says so
        if name not in present:
            rows.append({"target": name, "modules": modules, "tests": tests, "mutants": 0, "killed": 0, "survived": 0,
                         "timeout": 0, "other": 0, "seconds": 0.0, "survivors": [], "partial": True,
                         "note": "not run yet"})
    for r in rows:
        if str(r.get("note", "")).startswith(("partial", "not run")):
            r["partial"] = True
    rows = sorted(rows, key=lambda r: list(TARGETS).index(r["target"]) if r["target"] in TARGETS else 99)
    for r in rows:  # re-apply the current explanations to kept rows too
        for s in r["survivors"]:
            s["reason"] = EXPLAINED.get(s["name"]) or classify(s.get("diff", []))
        r["explained"] = sum(1 for s in r["survivors"] if s["reason"])
    total = {k: sum(r[k] for r in rows) for k in ("mutants", "killed", "survived", "timeout", "explained")}
    payload = {"benchmark": "mutation", "tool": f"mutmut {_mutmut_version()}", "machine": machine(), "total": total, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mutation.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "| target | modules | tests | mutants | killed | survived | of which explained | timeout | s | ran |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']}{' (' + r['note'] + ')' if r.get('note') else ''} | {', '.join(f'`{m}`' for m in r['modules'])} | {', '.join(f'`{t}`' for t in r['tests'])} "
            f"| {r['mutants']} | {r['killed']} | {r['survived']} | {r['explained']} | {r['timeout']} | {r['seconds']:.0f} "
            f"| {r.get('ran_at', 'before run times were recorded')} |"
        )
    seconds = sum(r["seconds"] for r in rows)
    lines.append(
        f"| **all** | | | {total['mutants']} | {total['killed']} | {total['survived']} | {total['explained']} "
        f"| {total['timeout']} | {seconds:.0f} | |"
    )
    lines += ["", f"Measured {payload['machine']['date']} with {payload['tool']}, Python {payload['machine']['python']}, "
              f"{payload['machine']['cpu_count']} CPU cores.", "", "### Survivors", "",
              "| target | mutant | change | why it survives |", "|---|---|---|---|"]
    for r in rows:
        for sv in r["survivors"]:
            change = " → ".join(f"`{line[2:].strip()}`" for line in sv.get("diff", [])[:2]).replace("|", "\\|")
            lines.append(f"| {r['target']} | `{sv['name'].split('.')[-1]}` | {change} | "
                         f"{sv['reason'] or 'not explained yet: a hole in the tests'} |")
    page = DOCS / "mutation.md"
    text = page.read_text() if page.exists() else "<!-- mutation-table -->\n<!-- /mutation-table -->\n"
    head, _, rest = text.partition("<!-- mutation-table -->")
    _, _, tail = rest.partition("<!-- /mutation-table -->")
    page.write_text(head + "<!-- mutation-table -->\n" + "\n".join(lines) + "\n<!-- /mutation-table -->" + tail)


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(TARGETS), help="run only these targets (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the scratch copies (default: the system temp)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop each target after this many seconds and record it as partial")
    parser.add_argument("--recollect", action="store_true",
                        help="re-read the results of the last run from its scratch folders (no new run)")
    parser.add_argument("--recheck-survivors", action="store_true",
                        help="re-run only the survivors of the last run of the --only targets against the current tests")
    parser.add_argument("--resume", action="store_true",
                        help="with --recheck-survivors: also run the mutants a stopped run never checked")
    args = parser.parse_args(argv)
    if args.recheck_survivors:
        previous = json.loads((RESULTS / "mutation.json").read_text())["rows"]
        rows = [recheck_survivors(r, args.time_limit, args.resume, args.jobs) for r in previous
                if args.only and r["target"] in args.only and Path(r.get("scratch", "")).is_dir()]
        for r in rows:
            print(f"{r['target']}: {r['survived']} survivors left ({r['explained']} explained)", flush=True)
        write(rows)
        return
    if args.recollect:
        previous = json.loads((RESULTS / "mutation.json").read_text())["rows"]
        write([recollect(r) for r in previous if Path(r["scratch"]).is_dir() and (not args.only or r["target"] in args.only)])
        return
    rows = []
    for name in args.only or TARGETS:
        modules, tests = TARGETS[name]
        row = run_target(name, modules, tests, args.jobs, args.keep, args.time_limit)
        print(f"{name}: {row['mutants']} mutants, {row['killed']} killed, {row['survived']} survived "
              f"({row['explained']} explained), {row['timeout']} timeout, {row['seconds']:.0f} s  [{row['scratch']}]", flush=True)
        if "error" in row:
            print(row["error"], file=sys.stderr)
        rows.append(row)
    write(rows)


if __name__ == "__main__":
    main()
