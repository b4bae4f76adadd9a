"""Generate a dataset on disk: shards of samples, a manifest, resumable after an interrupt.

Layout of ``DIR``::

    DIR/manifest.json             problem, config, base seed, n, shard size, versions, times
    DIR/shards/shard-00000.npz    samples 0 .. shard_size - 1
    DIR/shards/shard-00001.npz    ...

Sample ``i`` is drawn with the seed :func:`sample_seed` ``(seed, i)``, so its
arrays depend only on the base seed, the index and the problem config: never
on the number of workers, the order of completion, or whether the run was
interrupted and resumed. Every file is written atomically; a re-run skips the
shards that exist and load correctly and regenerates the rest.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import functools
import json
import multiprocessing
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from ..errors import ConfigError, DataError, GraphopsError
from ..utils.atomic import atomic_write, writable_dir
from .problems import Problem, get_problem
from .shards import SHARD_DIR, pack_samples, read_shard, shard_name, write_shard

FORMAT = "graphops-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_SHARD_SIZE = 32
#: Manifest keys that must match for a re-run to resume an existing folder.
IDENTITY_KEYS = ("format_version", "problem", "n", "seed", "shard_size", "tiny", "config")
SEED_DERIVATION = "int(numpy.random.SeedSequence([seed, index]).generate_state(1, numpy.uint64)[0] >> 1)"

PathLike = Union[str, "os.PathLike[str]"]


def sample_seed(base_seed: int, index: int) -> int:
    """Seed of sample ``index`` (a non-negative int64), derived from the base seed.

    ``SeedSequence([base_seed, index])`` mixes both numbers, so neighbouring
    indices or seeds give unrelated streams.
    """
    state = np.random.SeedSequence([int(base_seed), int(index)]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def library_versions() -> Dict[str, str]:
    """Versions of the packages that shape the generated numbers."""
    out = {}
    for pkg in ("graphops", "numpy", "scipy", "scikit-fem", "gmsh", "torch"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    if out["graphops"] == "not installed":
        from .. import __version__

        out["graphops"] = __version__
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def read_manifest(root: PathLike) -> Dict[str, Any]:
    """Load ``root/manifest.json``.

    Raises
    ------
    DataError
        When it is missing, not JSON, or not a graphops dataset manifest.
    """
    path = Path(root).expanduser() / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError("no dataset manifest here (run `graphops generate` first)", path) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the dataset manifest ({exc})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError("not a graphops dataset manifest", path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(f"dataset format version {manifest.get('format_version')!r}, this graphops reads {FORMAT_VERSION}", path)
    return manifest


def _write_manifest(root: Path, manifest: Dict[str, Any]) -> None:
    with atomic_write(root / MANIFEST, "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")


def _options_added_since(old: Dict[str, Any]) -> Dict[str, Any]:
    """Default values of the problem options a stored dataset's config lacks (options added after it was written)."""
    config = old.get("config")
    if not isinstance(config, dict):
        return {}
    try:
        defaults = get_problem(str(old.get("problem")), tiny=bool(old.get("tiny"))).config()
    except GraphopsError:  # not a PDE problem (trajectories) or no longer known
        return {}
    return {k: v for k, v in defaults.items() if k not in config}


def _prepare_folder(root: Path, manifest: Dict[str, Any]) -> Dict[str, Any]:
    """Create ``root`` or check that it holds the same dataset; return the manifest to keep."""
    writable_dir(root / MANIFEST)
    path = root / MANIFEST
    if path.exists():
        old = read_manifest(root)
        added = _options_added_since(old)
        diffs = []
        for key in IDENTITY_KEYS:
            there, asked = old.get(key), manifest.get(key)
            if isinstance(there, dict) and isinstance(asked, dict):
                # an option the dataset predates had its default's effect (e.g. aspect 1: the unit square)
                there = {**(added if key == "config" else {}), **there}
                diffs += [(f"{key}.{k}", there.get(k), asked.get(k)) for k in sorted(set(there) | set(asked))
                          if there.get(k) != asked.get(k)]
            elif there != asked:
                diffs.append((key, there, asked))
        if diffs:
            detail = "; ".join(f"{k}: {a!r} there, {b!r} asked" for k, a, b in diffs)
            raise ConfigError(f"holds a different dataset ({detail}); use another output folder or delete this one", path)
        manifest["created"] = old.get("created", manifest["created"])
        return manifest
    others = [p.name for p in root.iterdir() if p.name != SHARD_DIR and not p.name.startswith(".")]
    if others:
        raise ConfigError(f"the output folder is not empty and holds no dataset manifest (found {others[0]!r})", root)
    return manifest


def _clean_temporaries(folder: Path) -> None:
    """Remove temporary files left by a killed run (atomic writes never finished)."""
    for tmp in folder.glob(".*.tmp.*"):
        try:
            tmp.unlink()
        except OSError:
            pass


def _shard_ranges(n: int, shard_size: int) -> List[range]:
    return [range(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]


def _valid_shard(path: Path, expected: range) -> Optional[Dict[str, np.ndarray]]:
    """The shard's arrays when it exists, loads and holds exactly the expected samples; else None."""
    if not path.exists():
        return None
    try:
        arrays = read_shard(path)
    except DataError:
        return None
    if [int(i) for i in arrays["index"]] != list(expected):
        return None
    return arrays


def _summary(arrays: Dict[str, np.ndarray]) -> Dict[str, List[int]]:
    """Per-sample manifest entries of one shard: family and node count."""
    return {
        "families": [int(v) for v in arrays["family"]],
        "num_nodes": [int(v) for v in np.diff(arrays["points__offsets"])],
    }


def _draw(problem: Problem, index: int, seed: int) -> Dict[str, np.ndarray]:
    """One sample of ``problem`` (picklable through ``functools.partial`` for worker processes)."""
    try:
        return problem.sample(index, seed)
    except GraphopsError as exc:
        raise DataError(f"sample {index} (seed {seed}) failed: {exc}") from None


def fill_shards(
    root: Path,
    manifest: Dict[str, Any],
    ranges: List[range],
    task: Callable[[int, int], Dict[str, np.ndarray]],
    summarise: Callable[[Dict[str, np.ndarray]], Dict[str, List[int]]],
    *,
    seed: int,
    workers: int,
    progress: bool,
    desc: str,
    unit: str = "sample",
) -> Path:
    """Create or resume a sharded dataset: draw every missing shard, then mark the manifest complete.

    The one driver behind :func:`generate_dataset` and
    :func:`graphops.data.trajectories.generate_trajectories`.

    Parameters
    ----------
    root : Path
        Dataset folder (created; a folder holding another dataset is refused).
    manifest : dict
        The manifest to write (``complete`` False until every shard exists).
    ranges : list of range
        Sample indices of each shard.
    task : callable (index, seed) -> dict of arrays
        Draws one sample; must be picklable when ``workers > 1``.
    summarise : callable (packed shard arrays) -> dict of per-sample lists
        Manifest entries of one shard; concatenated over shards into the manifest.
    seed : int
        Base seed; sample ``i`` gets ``sample_seed(seed, i)``.
    workers : int
        Processes (``spawn``); 1 draws in this process.
    progress : bool
        tqdm bar over samples.
    desc, unit : str
        Labels of the bar.

    Returns
    -------
    Path
        ``root``.
    """
    from tqdm.auto import tqdm

    manifest = _prepare_folder(root, manifest)
    _write_manifest(root, manifest)
    shard_dir = root / SHARD_DIR
    shard_dir.mkdir(exist_ok=True)
    _clean_temporaries(shard_dir)
    _clean_temporaries(root)

    summaries: Dict[int, Dict[str, List[int]]] = {}
    pending: List[int] = []
    for s, r in enumerate(ranges):
        arrays = _valid_shard(shard_dir / shard_name(s), r)
        if arrays is None:
            pending.append(s)
        else:
            summaries[s] = summarise(arrays)

    def finish_shard(s: int, samples: List[Dict[str, np.ndarray]]) -> None:
        write_shard(shard_dir / shard_name(s), samples)
        summaries[s] = summarise(pack_samples(samples))

    done = sum(len(ranges[s]) for s in summaries)
    bar = tqdm(total=sum(len(r) for r in ranges), initial=done, unit=unit, desc=desc, disable=not progress)
    try:
        if workers == 1:
            for s in pending:
                samples = []
                for i in ranges[s]:
                    samples.append(task(i, sample_seed(seed, i)))
                    bar.update(1)
                finish_shard(s, samples)
        else:
            _run_pool(task, seed, ranges, pending, workers, finish_shard, bar)
    finally:
        bar.close()

    entries: Dict[str, List[int]] = {}
    for s in range(len(ranges)):
        for key, values in summaries[s].items():
            entries.setdefault(key, []).extend(values)
    manifest.update(complete=True, completed=_now(), shards=[shard_name(s) for s in range(len(ranges))], **entries)
    _write_manifest(root, manifest)
    return root


def _run_pool(task: Callable[[int, int], Dict[str, np.ndarray]], seed: int, ranges: List[range], pending: List[int],
              workers: int, finish_shard: Callable[[int, List[Dict[str, np.ndarray]]], None], bar) -> None:
    """Draw the pending shards' samples in a process pool (a bounded window of tasks); finish each shard when complete."""
    tasks = [(s, i) for s in pending for i in ranges[s]]
    results: Dict[int, Dict[int, Dict[str, np.ndarray]]] = {s: {} for s in pending}
    window = 4 * workers
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        running: Dict[cf.Future, tuple] = {}
        next_task = 0
        try:
            while next_task < len(tasks) or running:
                while next_task < len(tasks) and len(running) < window:
                    s, i = tasks[next_task]
                    running[pool.submit(task, i, sample_seed(seed, i))] = (s, i)
                    next_task += 1
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    s, i = running.pop(fut)
                    results[s][i] = fut.result()
                    bar.update(1)
                    if len(results[s]) == len(ranges[s]):
                        finish_shard(s, [results[s][j] for j in ranges[s]])
                        del results[s]
        except BaseException:
            for fut in running:
                fut.cancel()
            raise


# --------------------------------------------------------------- driver
def generate_dataset(
    problem: str,
    n: int,
    out: PathLike,
    workers: int = 1,
    seed: int = 0,
    tiny: bool = False,
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: bool = True,
    **problem_options: Any,
) -> Path:
    """Generate (or finish generating) a dataset of ``n`` samples in ``out``.

    Parameters
    ----------
    problem : str
        A registered problem name (see :func:`graphops.data.problems.problem_names`).
    n : int
        Number of samples (> 0).
    out : path-like
        Output folder (created). A folder holding the same dataset is resumed;
        one holding another dataset is refused with a :class:`ConfigError`.
    workers : int
        Processes drawing samples (``spawn`` context, each with its own gmsh
        session); 1 draws in this process.
    seed : int
        Base seed (>= 0); sample ``i`` uses :func:`sample_seed` ``(seed, i)``.
    tiny : bool
        Small meshes (about 200-500 nodes) for tests.
    shard_size : int
        Samples per shard file.
    progress : bool
        Show a tqdm progress bar over samples.
    **problem_options
        Options of the problem (e.g. ``cutouts=[4]``, ``mesh_size=0.02``).

    Returns
    -------
    Path
        The output folder.
    """
    n = _check_int(n, "n (number of samples)", 1)
    workers = _check_int(workers, "workers", 1)
    seed = _check_int(seed, "seed", 0)
    shard_size = _check_int(shard_size, "shard_size", 1)
    prob = get_problem(problem, tiny=tiny, **problem_options)
    root = Path(out).expanduser()
    ranges = _shard_ranges(n, shard_size)
    manifest: Dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "problem": prob.name,
        "description": prob.description,
        "n": n,
        "seed": seed,
        "shard_size": shard_size,
        "num_shards": len(ranges),
        "tiny": bool(tiny),
        "config": prob.config(),
        "families_drawn": prob.families(),
        "family_name": prob.family_name,
        "group_names": list(prob.group_names),
        "node_fields": list(prob.node_fields),
        "target": prob.target,
        "seed_derivation": SEED_DERIVATION,
        "versions": library_versions(),
        "created": _now(),
        "complete": False,
    }
    return fill_shards(root, manifest, ranges, functools.partial(_draw, prob), _summary, seed=seed,
                       workers=workers, progress=progress, desc=f"generate {prob.name}")
