"""Shards: groups of samples in one ``.npz`` file, written atomically, read without pickle.

A shard holds ``S`` samples (dicts of arrays with per-sample sizes). Each key
is stored once for the whole shard:

* 0-d values (``index``, ``seed``, ``family``) are stacked into ``key`` ``(S,)``;
* arrays are concatenated along their first axis into ``key`` ``(sum n_j, ...)``
  with ``key__offsets`` ``(S + 1,)`` giving sample ``j``'s rows
  ``offsets[j]:offsets[j + 1]``.

Files are ``np.savez_compressed`` archives written through
:func:`graphops.utils.atomic.atomic_write` (complete or absent) and loaded with
``allow_pickle=False``.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from ..errors import DataError
from ..utils.atomic import atomic_write

OFFSETS = "__offsets"
SHARD_DIR = "shards"


def shard_name(shard: int) -> str:
    """File name of shard number ``shard``: ``shard-00000.npz``."""
    return f"shard-{shard:05d}.npz"


def pack_samples(samples: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """Concatenate samples into shard arrays (see the module docstring).

    Raises
    ------
    DataError
        When samples have different keys, inconsistent kinds (scalar vs array)
        or object arrays (which would need pickle).
    """
    if not samples:
        raise DataError("cannot write an empty shard")
    keys = list(samples[0])
    out: Dict[str, np.ndarray] = {}
    for j, s in enumerate(samples):
        if list(s) != keys:
            raise DataError(f"sample {j} of the shard has keys {sorted(s)}, expected {sorted(keys)}")
    for key in keys:
        if key.endswith(OFFSETS):
            raise DataError(f"sample field names cannot end with {OFFSETS!r}: {key!r}")
        values = [np.asarray(s[key]) for s in samples]
        if any(v.dtype == object for v in values):
            raise DataError(f"sample field {key!r} is an object array; shards store plain numeric arrays only")
        if all(v.ndim == 0 for v in values):
            out[key] = np.stack(values)
        elif all(v.ndim >= 1 for v in values):
            lengths = np.array([len(v) for v in values], dtype=np.int64)
            out[key] = np.concatenate(values, axis=0)
            out[key + OFFSETS] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        else:
            raise DataError(f"sample field {key!r} is a scalar in some samples and an array in others")
    return out


def num_samples(arrays: Dict[str, np.ndarray]) -> int:
    """Number of samples in loaded shard arrays (from ``index``)."""
    return int(len(arrays["index"]))


def unpack_sample(arrays: Dict[str, np.ndarray], j: int) -> Dict[str, np.ndarray]:
    """Sample ``j`` of loaded shard arrays, as a dict of arrays (views, not copies)."""
    out: Dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if key.endswith(OFFSETS):
            continue
        offsets = arrays.get(key + OFFSETS)
        if offsets is None:
            out[key] = value[j]
        else:
            out[key] = value[offsets[j] : offsets[j + 1]]
    return out


def write_shard(path: Path, samples: Sequence[Dict[str, np.ndarray]], compresslevel: int = 6) -> None:
    """Write samples to ``path`` atomically (the file is complete or absent).

    Parameters
    ----------
    path : Path
    samples : sequence of dict
    compresslevel : int
        zlib level 1-9 of the npz archive (6, numpy's ``savez_compressed``, by
        default; the importer uses 1: about 2.5x faster for 1-2 % more bytes).
    """
    arrays = pack_samples(samples)
    with atomic_write(path, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
            for key, value in arrays.items():  # the layout np.savez writes (np.load reads it)
                with archive.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def read_shard(path: Path) -> Dict[str, np.ndarray]:
    """Load every array of a shard (no pickle).

    Raises
    ------
    DataError
        When the file is missing, truncated, not an npz archive, or lacks ``index``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise DataError("shard file is missing", path) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"cannot read shard ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", path) from None
    if "index" not in arrays:
        raise DataError("shard has no 'index' array (not a graphops shard)", path)
    n = num_samples(arrays)
    for key, value in arrays.items():
        if key.endswith(OFFSETS):
            base = key[: -len(OFFSETS)]
            if base not in arrays or len(value) != n + 1 or value[-1] != len(arrays[base]):
                raise DataError(f"shard offsets of field {base!r} are inconsistent", path)
        elif key + OFFSETS not in arrays and len(value) != n:
            raise DataError(f"shard field {key!r} has {len(value)} entries for {n} samples", path)
    return arrays


def shard_indices(path: Path) -> List[int]:
    """Sample indices stored in a shard (loads it; raises :class:`DataError` when unreadable)."""
    return [int(i) for i in read_shard(path)["index"]]
