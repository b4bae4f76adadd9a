"""Import a user's simulation results as a graphops dataset (the library side of ``graphops import``).

Input: a folder, a glob or a list of mesh files in any format
:func:`graphops.io.read_mesh` reads, or one time-series XDMF file (each time
step one sample), plus an :class:`~graphops.data.import_spec.ImportSpec`.
Output: the dataset layout every graphops dataset has (``DIR/manifest.json``,
``DIR/shards/shard-*.npz``; see :mod:`graphops.data.generate`), with problem
``"imported"`` and the spec, field names and components in the manifest, so
``graphops train``, ``evaluate`` and ``predict`` read it like generated data.

Sample ``i`` is the ``i``-th file in sorted order (or time step ``i``).
Each worker process imports whole shards (reads its files, writes its shard
atomically), so memory is bounded by one shard per worker. A re-run resumes:
shards that exist and hold all their samples are kept. A bad file never costs
the files already imported: by default the run stops after the shards in
flight and lists the bad files, one line each; with ``skip_bad`` they are
reported (in the manifest too) and the rest is imported.
"""
from __future__ import annotations

import concurrent.futures as cf
import glob as _glob
import hashlib
import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import ConfigError, DataError, GraphopsError, MeshError
from ..mesh import Mesh
from .generate import (FORMAT, FORMAT_VERSION, MANIFEST, _check_int, _clean_temporaries, _now, _prepare_folder,
                       _shard_ranges, _write_manifest, library_versions)
from .import_spec import ImportSpec, spec_from_dict
from .imported import (IMPORTED_PROBLEM, NODE_SLOTS, TARGET_SLOT, describe_fields, layout_of, sample_arrays,
                       sample_problem)
from .shards import SHARD_DIR, read_shard, shard_name, write_shard

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_SHARD_SIZE = 32
#: zlib level of imported shards (1: fast; level 6 saves only 1-2 % of bytes on mesh data).
SHARD_COMPRESSION = 1
#: Suffixes read as one time series (each step a sample) when given as the only input.
TIME_SERIES_SUFFIXES = (".xdmf", ".xmf")


@dataclass(frozen=True)
class Source:
    """One sample's origin: a file, or one step of a time-series file."""

    path: str
    step: Optional[int] = None

    @property
    def label(self) -> str:
        """How messages and the manifest name it: ``file`` or ``file@step``."""
        return self.path if self.step is None else f"{self.path}@{self.step}"


# ----------------------------------------------------------------- sources
def find_sources(inputs: Union[PathLike, Sequence[PathLike]]) -> List[Source]:
    """The samples to import, in order.

    Parameters
    ----------
    inputs : path-like or sequence
        A folder (every mesh file directly in it; point-cloud formats such as
        ``.csv`` are left out), a glob pattern,
        a file, or a list of these. One ``.xdmf`` file holding a temporal
        collection gives one sample per time step.

    Raises
    ------
    ConfigError
        Nothing matches, or a named file or folder does not exist.
    """
    from ..io import POINT_CLOUD_EXTENSIONS, supported_extensions

    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not items:
        raise ConfigError("no input files given")
    # a folder scan skips point-cloud formats (.csv, .npy...): they hold no cells (and a scalars CSV may sit there)
    extensions = tuple(e for e in supported_extensions() if e not in POINT_CLOUD_EXTENSIONS)
    files: List[str] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        p = Path(text)
        if p.is_dir():
            found = sorted(str(q) for q in p.iterdir() if q.is_file() and q.name.lower().endswith(extensions)
                           and not q.name.startswith("."))
            if not found:
                raise ConfigError(f"the folder holds no mesh files ({', '.join(extensions[:6])}...)", p)
            files += found
        elif p.is_file():
            files.append(str(p))
        elif _glob.has_magic(text):
            found = sorted(q for q in _glob.glob(text) if Path(q).is_file())
            if not found:
                raise ConfigError(f"no file matches {text!r}")
            files += found
        else:
            raise ConfigError("input file or folder not found", p)
    files = list(dict.fromkeys(files))
    if len(files) == 1 and files[0].lower().endswith(TIME_SERIES_SUFFIXES):
        steps = time_series_steps(files[0])
        if steps is not None:
            return [Source(files[0], k) for k in range(steps)]
    return [Source(f) for f in files]


def time_series_steps(path: str) -> Optional[int]:
    """Number of time steps of an XDMF temporal collection, or None when the file is not one."""
    from meshio.xdmf import TimeSeriesReader

    try:
        with TimeSeriesReader(path) as reader:
            return int(reader.num_steps)
    except Exception:  # not a temporal collection (meshio raises several kinds): a plain mesh file
        return None


# ----------------------------------------------------------------- reading
def _meshio_read(path: Path):
    """``meshio.read`` with every failure turned into a MeshError naming the file."""
    import contextlib
    import io

    import meshio

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            return meshio.read(str(path))
    except (Exception, SystemExit) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MeshError(f"cannot read this file ({type(exc).__name__}: {detail})", path) from None


def read_source(source: Source, need_field_data: bool) -> Tuple[Mesh, Dict[str, float], Optional[float]]:
    """Read one sample's mesh.

    Returns
    -------
    mesh : Mesh
        With the file's point and cell data.
    field_data : dict of str to float
        The file's one-number field data (only read when ``need_field_data``).
    time : float or None
        The step's time for a time series.
    """
    from ..io import read_mesh
    from ..io.read import GMSH_EXTENSIONS, check_readable, from_meshio

    if source.step is not None:
        return _read_step(source)
    path = check_readable(source.path)
    if not need_field_data or path.suffix.lower() in GMSH_EXTENSIONS:
        return read_mesh(path), {}, None
    raw = _meshio_read(path)
    mesh = from_meshio(raw, source=str(path)).validate()
    numbers = {}
    for name, value in (raw.field_data or {}).items():
        arr = np.asarray(value)
        if arr.size == 1 and arr.dtype.kind in "biuf":
            numbers[name] = float(arr.reshape(-1)[0])
    return mesh, numbers, None


def _read_step(source: Source) -> Tuple[Mesh, Dict[str, float], float]:
    import meshio
    from meshio.xdmf import TimeSeriesReader

    from ..io.read import from_meshio

    try:
        with TimeSeriesReader(source.path) as reader:
            points, cells = reader.read_points_cells()
            t, point_data, cell_data = reader.read_data(source.step)
    except Exception as exc:  # meshio/h5py errors of many kinds
        raise MeshError(f"cannot read time step {source.step} ({type(exc).__name__}: {exc})", source.path) from None
    raw = meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data)
    return from_meshio(raw, source=source.label).validate(), {}, float(t)


def sample_scalars(spec: ImportSpec, source: Source, field_data: Mapping[str, float],
                   time: Optional[float]) -> Dict[str, float]:
    """The sample's named scalars: the CSV row of its file, else its field data (``time`` for a time step)."""
    if not spec.scalars:
        return {}
    row = spec.csv_scalars(source.path) if spec.scalars_csv else None
    if spec.scalars_csv and row is None:
        raise DataError(f"has no row in the scalars CSV {spec.scalars_csv} (column 'file')", source.label)
    values = {}
    for name in spec.scalars:
        if row is not None:
            values[name] = row[name]
        elif name in field_data:
            values[name] = field_data[name]
        elif name == "time" and time is not None:
            values[name] = time
        else:
            known = ", ".join(repr(k) for k in field_data) or "none"
            raise DataError(f"has no one-number field data {name!r} (field data: {known}); give the scalars in a "
                            "CSV (scalars_csv) instead", source.label)
        if not np.isfinite(values[name]):
            raise DataError(f"scalar {name!r} is {values[name]} (NaN or infinite)", source.label)
    return values


def import_sample(spec: ImportSpec, source: Source, reference: Optional[Mapping[str, Any]],
                  with_targets: bool = True) -> Dict[str, np.ndarray]:
    """Read one source and build its stored arrays (see :func:`graphops.data.imported.sample_arrays`)."""
    need_fd = bool(spec.scalars) and not spec.scalars_csv
    mesh, field_data, time = read_source(source, need_fd)
    scalars = sample_scalars(spec, source, field_data, time)
    return sample_arrays(mesh, spec, scalars, reference, with_targets=with_targets)


def reference_layout(spec: ImportSpec, source: Source) -> Dict[str, Any]:
    """The layout of one source (dimension, components of every named field), the one all others must match."""
    need_fd = bool(spec.scalars) and not spec.scalars_csv
    mesh, field_data, time = read_source(source, need_fd)
    scalars = sample_scalars(spec, source, field_data, time)
    sample_arrays(mesh, spec, scalars)  # every check a sample gets
    layout = layout_of(mesh, spec, scalars)
    layout["source"] = source.label
    return layout


# ----------------------------------------------------------------- shards
def _import_shard(spec: ImportSpec, items: List[Tuple[int, Source]], reference: Mapping[str, Any],
                  path: str, write_partial: bool) -> Tuple[Dict[str, List[int]], List[Tuple[int, str]]]:
    """Import the samples of one shard and write it (worker side).

    Returns the per-sample summary of the written samples and the problems
    ``(index, one-line message naming the file)``. A shard with problems is
    written only with ``write_partial`` (holding the good samples).
    """
    samples, problems = [], []
    for i, source in items:
        try:
            sample = import_sample(spec, source, reference)
        except GraphopsError as exc:
            where = exc.path or source.label
            problems.append((i, f"{where}: {sample_problem(exc)}"))
            continue
        sample["index"] = np.asarray(i, dtype=np.int64)
        samples.append(sample)
    if samples and (write_partial or not problems):
        write_shard(Path(path), samples, compresslevel=SHARD_COMPRESSION)
    return _summary(samples) if (write_partial or not problems) else {}, problems


def _summary(samples: Sequence[Mapping[str, np.ndarray]]) -> Dict[str, List[int]]:
    return {
        "indices": [int(s["index"]) for s in samples],
        "families": [int(s["family"]) for s in samples],
        "num_nodes": [int(len(s["points"])) for s in samples],
    }


def _shard_summary(arrays: Mapping[str, np.ndarray]) -> Dict[str, List[int]]:
    return {
        "indices": [int(v) for v in arrays["index"]],
        "families": [int(v) for v in arrays["family"]],
        "num_nodes": [int(v) for v in np.diff(arrays["points__offsets"])],
    }


def _complete_shard(path: Path, expected: range) -> Optional[Dict[str, List[int]]]:
    """Summary of a shard on disk holding exactly the expected samples, else None (to be imported again)."""
    if not path.exists():
        return None
    try:
        arrays = read_shard(path)
    except DataError:
        return None
    if [int(i) for i in arrays["index"]] != list(expected):
        return None
    return _shard_summary(arrays)


def _sources_digest(sources: Sequence[Source]) -> str:
    text = "\n".join(s.label for s in sources)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------- driver
def import_dataset(
    inputs: Union[PathLike, Sequence[PathLike]],
    spec: Union[ImportSpec, Mapping[str, Any], PathLike],
    out: PathLike,
    workers: int = 1,
    shard_size: int = DEFAULT_SHARD_SIZE,
    skip_bad: bool = False,
    progress: bool = True,
) -> Path:
    """Import simulation result files as a dataset in ``out`` (create or resume).

    Parameters
    ----------
    inputs : path-like or sequence
        Folder, glob, file(s), or one time-series XDMF (see :func:`find_sources`).
    spec : ImportSpec, mapping or path to a YAML spec
        Which point fields are inputs, targets, scalars and boundary data
        (:mod:`graphops.data.import_spec`).
    out : path-like
        Dataset folder. The same command resumes an interrupted import; a
        folder holding another dataset is refused.
    workers : int
        Processes importing shards in parallel (``spawn``); 1 imports here.
    shard_size : int
        Samples per shard file.
    skip_bad : bool
        Report bad files and import the rest (default: stop with the list).
    progress : bool
        tqdm bar over samples.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    DataError
        Bad files (without ``skip_bad``), one line each: the file and the
        problem. Shards already written are kept; re-run after fixing them.
    ConfigError
        Bad spec, no inputs, or an output folder holding another dataset.
    """
    from tqdm.auto import tqdm

    spec = spec_from_dict(spec)
    workers = _check_int(workers, "workers", 1)
    shard_size = _check_int(shard_size, "shard_size", 1)
    sources = find_sources(inputs)
    root = Path(out).expanduser()
    ranges = _shard_ranges(len(sources), shard_size)
    manifest: Dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "problem": IMPORTED_PROBLEM,
        "description": f"imported: {', '.join(spec.targets)} from {', '.join(spec.inputs) or 'the geometry'}",
        "n": len(sources),
        "seed": 0,
        "shard_size": shard_size,
        "num_shards": len(ranges),
        "tiny": False,
        "config": {"spec": spec.to_dict(), "sources": _sources_digest(sources)},
        "family_name": spec.family or "family",
        "group_names": [],
        "node_fields": list(NODE_SLOTS),
        "target": TARGET_SLOT,
        "sources": [s.label for s in sources],
        "versions": library_versions(),
        "created": _now(),
        "complete": False,
    }
    manifest = _prepare_folder(root, manifest)
    old = json.loads((root / MANIFEST).read_text()) if (root / MANIFEST).exists() else {}
    shard_dir = root / SHARD_DIR
    summaries: Dict[int, Dict[str, List[int]]] = {}
    pending: List[int] = []
    if shard_dir.exists():
        _clean_temporaries(shard_dir)
    for s, r in enumerate(ranges):
        summary = _complete_shard(shard_dir / shard_name(s), r)
        if summary is None:
            pending.append(s)
        else:
            summaries[s] = summary

    reference = old.get("layout")
    if reference is None:
        reference = _first_layout(spec, sources, [i for s in pending for i in ranges[s]], skip_bad)
    manifest["layout"] = reference
    manifest.update(describe_fields(spec, reference))
    _write_manifest(root, manifest)
    shard_dir.mkdir(exist_ok=True)
    _clean_temporaries(root)

    problems: Dict[int, str] = {}
    bar = tqdm(total=len(sources), initial=sum(len(ranges[s]) for s in summaries), unit="file",
               desc="import", disable=not progress)
    try:
        jobs = [(s, [(i, sources[i]) for i in ranges[s]], str(shard_dir / shard_name(s))) for s in pending]
        for s, summary, found in _run_jobs(spec, reference, jobs, workers, skip_bad):
            bar.update(len(ranges[s]))
            problems.update(found)
            if summary:
                summaries[s] = summary
    finally:
        bar.close()

    bad = [problems[i] for i in sorted(problems)]
    manifest["skipped"] = [{"index": i, "source": sources[i].label, "problem": problems[i]} for i in sorted(problems)]
    if bad and not skip_bad:
        _write_manifest(root, manifest)
        lines = "\n".join(bad)
        raise DataError(f"{len(bad)} file(s) could not be imported; the shards already written are kept. Fix the "
                        f"files (or pass --skip-bad / skip_bad=True) and run the same command again:\n{lines}", root)
    entries: Dict[str, List[int]] = {"indices": [], "families": [], "num_nodes": []}
    for s in sorted(summaries):
        for key in entries:
            entries[key] += summaries[s].get(key, [])
    if not entries["indices"]:
        raise DataError("no file could be imported", root)
    manifest.update(entries)
    manifest.update(complete=True, completed=_now(), shards=[shard_name(s) for s in range(len(ranges))],
                    families_drawn=sorted(set(entries["families"])))
    _write_manifest(root, manifest)
    return root


def _first_layout(spec: ImportSpec, sources: Sequence[Source], order: Sequence[int], skip_bad: bool) -> Dict[str, Any]:
    """The reference layout: that of the first importable source (the first one at all without ``skip_bad``)."""
    candidates = list(order) or [0]
    for i in candidates:
        try:
            return reference_layout(spec, sources[i])
        except GraphopsError as exc:
            if not skip_bad:
                where = exc.path or sources[i].label
                raise DataError(f"1 file could not be imported (it is the first and sets the layout the others must "
                                f"match):\n{where}: {sample_problem(exc)}") from None
    raise DataError("no file could be imported (every file failed; run without --skip-bad to see why)")


def _run_jobs(spec, reference, jobs, workers, skip_bad):
    """Yield ``(shard, summary, {index: problem})`` as shards finish; stop submitting at a problem unless skipping."""
    if workers == 1:
        for s, items, path in jobs:
            summary, found = _import_shard(spec, items, reference, path, skip_bad)
            yield s, summary, dict(found)
            if found and not skip_bad:
                return
        return
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
        queue = list(jobs)
        running: Dict[cf.Future, int] = {}
        stop = False
        try:
            while queue or running:
                while queue and not stop and len(running) < 2 * workers:
                    s, items, path = queue.pop(0)
                    running[pool.submit(_import_shard, spec, items, reference, path, skip_bad)] = s
                if not running:
                    break
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    s = running.pop(fut)
                    summary, found = fut.result()
                    if found and not skip_bad:
                        stop = True
                    yield s, summary, dict(found)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
