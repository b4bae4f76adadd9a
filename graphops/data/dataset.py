"""Read a generated dataset lazily as a ``torch_geometric`` dataset, with splits by geometry family."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch_geometric.data import Data, Dataset

from ..errors import ConfigError, DataError
from ..mesh import Mesh, PhysicalGroup
from .generate import PathLike, read_manifest
from .shards import SHARD_DIR, read_shard, unpack_sample

SPLITS = ("train", "val", "test")


def sample_graph(mesh: Mesh, fields: Dict[str, np.ndarray], radius: Optional[float] = None) -> Data:
    """The graph of one sample, as the models see it in training and in prediction.

    Parameters
    ----------
    mesh : Mesh
        The sample's mesh.
    fields : dict of str to ndarray
        Node fields (e.g. ``f`` (N,), ``g`` (N,), ``bc_dirichlet`` (N,) bool);
        boolean arrays stay boolean, the rest become float32.
    radius : float, optional
        Also connect nodes closer than this (see :func:`graphops.graph.mesh_to_graph`).

    Returns
    -------
    Data
        :func:`graphops.graph.mesh_to_graph` of the mesh plus one attribute per field.
    """
    from ..graph import mesh_to_graph

    return with_fields(mesh_to_graph(mesh, radius=radius), fields)


def with_fields(data: Data, fields: Dict[str, np.ndarray]) -> Data:
    """``data`` with node fields added as tensors (booleans stay boolean, the rest become float32).

    Parameters
    ----------
    data : Data
        A graph; it is changed in place and returned.
    fields : dict of str to ndarray
        Node fields ``(N,)`` / ``(N, c)``.

    Returns
    -------
    Data
    """
    for name, value in fields.items():
        value = np.asarray(value)
        data[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=bool if value.dtype == bool else np.float32))
    return data


class MeshDataset(Dataset):
    """Samples of a dataset written by :func:`graphops.data.generate_dataset` or
    :func:`graphops.data.importer.import_dataset`, read lazily.

    Shards are loaded on first use and kept in a small LRU cache. Each item is
    the mesh graph of :func:`graphops.graph.mesh_to_graph` plus the problem's
    fields:

    * ``f``, ``g``, ``a`` ``(N,)`` float32 where the problem has them (``g``
      holds boundary values or fluxes and is zero at interior nodes),
    * ``bc_dirichlet`` ``(N,)`` bool (nodes with a prescribed value),
    * other node fields as stored (e.g. ``displacement`` ``(N, 2)``, ``u``),
    * ``y`` ``(N, C)`` float32: the problem's target (``u`` for Poisson, the
      von Mises stress for elasticity; an imported dataset's named targets side
      by side, with ``f`` ``(N, C_in)`` and ``g`` ``(N, C_g)``, see
      :mod:`graphops.data.imported`),
    * ``family`` (int, e.g. the number of cut-outs) and ``sample_id`` (int).

    Parameters
    ----------
    root : path-like
        The dataset folder (holding ``manifest.json``).
    families : iterable of int, optional
        Keep only samples of these geometry families.
    split : {"train", "val", "test"}, optional
        Keep one part of :func:`split_by_family` with the ``split_*`` arguments.
    train_families, test_families : iterable of int, optional
        Families of the train(+val) and test parts (see :func:`split_by_family`).
    val_fraction, test_fraction : float
        See :func:`split_by_family`.
    split_seed : int
        Seed of the validation draw.
    radius : float, optional
        Also connect nodes closer than this (passed to ``mesh_to_graph``).
    cache_size : int
        Shards kept in memory.
    transform : callable, optional
        PyG transform applied to each item.
    """

    def __init__(
        self,
        root: PathLike,
        families: Optional[Iterable[int]] = None,
        split: Optional[str] = None,
        train_families: Optional[Iterable[int]] = None,
        test_families: Optional[Iterable[int]] = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        split_seed: int = 0,
        radius: Optional[float] = None,
        cache_size: int = 4,
        transform: Optional[Callable[[Data], Data]] = None,
    ) -> None:
        self.dataset_root = Path(root).expanduser()
        self.manifest = read_manifest(self.dataset_root)
        if not self.manifest.get("complete"):
            raise DataError(
                "the dataset is incomplete (generation or import was interrupted, or stopped at bad files); re-run "
                "the same `graphops generate` / `graphops import` command",
                self.dataset_root,
            )
        self.radius = radius
        self.cache_size = max(1, int(cache_size))
        self._cache: "OrderedDict[int, Dict[str, np.ndarray]]" = OrderedDict()
        self._shard_size = int(self.manifest["shard_size"])
        # stored sample indices (an import that skipped bad files leaves gaps)
        self._ids = np.asarray(self.manifest.get("indices", range(int(self.manifest["n"]))), dtype=np.int64)
        n = len(self._ids)
        all_families = np.asarray(self.manifest["families"], dtype=np.int64)
        if len(all_families) != n:
            raise DataError(f"manifest lists {len(all_families)} families for {n} samples", self.dataset_root / "manifest.json")
        selected = np.arange(n)
        if families is not None:
            wanted = _family_list(families, "families")
            selected = selected[np.isin(all_families, wanted)]
        self._samples = selected
        self._families = all_families
        super().__init__(None, transform)
        if split is not None:
            if split not in SPLITS:
                raise ConfigError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
            parts = dict(zip(SPLITS, split_by_family(self, train_families, test_families, val_fraction, split_seed, test_fraction)))
            self._samples = self._samples[np.asarray(parts[split].indices(), dtype=np.int64)]

    # ----------------------------------------------------------- PyG API
    def len(self) -> int:
        return int(len(self._samples))

    def get(self, idx: int) -> Data:
        sample_id = int(self._ids[self._samples[idx]])
        sample, path = self._sample(sample_id)
        mesh = self._mesh(sample, path)
        fields = {name: sample[name] for name in self.manifest["node_fields"] if name in sample}
        data = sample_graph(mesh, fields, radius=self.radius)
        target = sample[self.manifest["target"]]
        data.y = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).reshape(len(target), -1)
        data.family = int(sample["family"])
        data.sample_id = sample_id
        return data

    # ----------------------------------------------------------- helpers
    @property
    def problem(self) -> str:
        """The problem name of the dataset."""
        return str(self.manifest["problem"])

    def families_of_items(self) -> np.ndarray:
        """Family label ``(len(self),)`` of each item (respecting ``index_select`` views)."""
        return self._families[self._samples[np.asarray(self.indices(), dtype=np.int64)]]

    def sample_ids(self) -> np.ndarray:
        """Dataset sample index ``(len(self),)`` of each item (the stored ``index``)."""
        return self._ids[self._samples[np.asarray(self.indices(), dtype=np.int64)]]

    def raw_sample(self, i: int) -> Dict[str, np.ndarray]:
        """The stored arrays of item ``i`` (validated, numpy)."""
        return self._sample(int(self.sample_ids()[i]))[0]

    def mesh(self, i: int) -> Mesh:
        """The mesh of item ``i`` with its physical groups and node fields as point data."""
        sample_id = int(self.sample_ids()[i])
        sample, path = self._sample(sample_id)
        mesh = self._mesh(sample, path)
        fields = {k: np.asarray(sample[k]) for k in self.manifest["node_fields"] if k in sample}
        return mesh.with_point_data(**fields)

    def _shard(self, shard: int) -> Tuple[Dict[str, np.ndarray], Path]:
        path = self.dataset_root / SHARD_DIR / self.manifest["shards"][shard]
        if shard in self._cache:
            self._cache.move_to_end(shard)
            return self._cache[shard], path
        arrays = read_shard(path)
        self._cache[shard] = arrays
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return arrays, path

    def _sample(self, sample_id: int) -> Tuple[Dict[str, np.ndarray], Path]:
        shard, pos = divmod(sample_id, self._shard_size)
        arrays, path = self._shard(shard)
        if pos >= len(arrays["index"]) or int(arrays["index"][pos]) != sample_id:  # a shard with skipped samples
            pos = int(np.searchsorted(arrays["index"], sample_id))
        if pos >= len(arrays["index"]) or int(arrays["index"][pos]) != sample_id:
            raise DataError(f"shard does not hold sample {sample_id} where the manifest puts it", path)
        sample = unpack_sample(arrays, pos)
        for key, value in sample.items():
            if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise DataError(f"sample {sample_id} has NaN or infinite values in field {key!r}", path)
        return sample, path

    def _mesh(self, sample: Dict[str, np.ndarray], path: Path) -> Mesh:
        points = np.asarray(sample["points"], dtype=np.float64)
        cells = np.asarray(sample["cells"], dtype=np.int64)
        if "cell_type" in sample:  # imported: one padded block of any volume cell types
            from .imported import cells_from_block

            cell_blocks = cells_from_block(cells, sample["cell_type"])
        else:
            ctype = {(2, 3): "triangle", (3, 4): "tetra"}.get((points.shape[1], cells.shape[1]))
            if ctype is None:
                raise DataError(f"sample has cells of {cells.shape[1]} nodes in {points.shape[1]}D", path)
            cell_blocks = {ctype: cells}
        groups: Dict[str, PhysicalGroup] = {}
        facets, codes = sample.get("facets"), sample.get("facet_group")
        if facets is not None and len(facets):
            ftype = "line" if facets.shape[1] == 2 else "triangle"
            names = self.manifest["group_names"]
            for code, name in enumerate(names):
                sel = facets[codes == code]
                if len(sel):
                    groups[name] = PhysicalGroup(name, points.shape[1] - 1, code + 1, {ftype: np.asarray(sel, dtype=np.int64)})
            cell_blocks[ftype] = np.asarray(facets, dtype=np.int64)
        return Mesh(points, cell_blocks, groups=groups, source=str(path))


def _family_list(values: Iterable[int], name: str) -> List[int]:
    try:
        out = sorted({int(v) for v in values})
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a list of integers, got {values!r}") from None
    return out


def split_by_family(
    dataset: MeshDataset,
    train_families: Optional[Iterable[int]] = None,
    test_families: Optional[Iterable[int]] = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    test_fraction: float = 0.0,
) -> Tuple[MeshDataset, MeshDataset, MeshDataset]:
    """Split a dataset into train / validation / test views by geometry family.

    The test part is every item whose family is in ``test_families``; train
    and validation share the items of ``train_families`` (default: every
    family not in ``test_families``), ``val_fraction`` of them, drawn with
    ``seed``, going to validation. With one family (or no ``test_families``),
    ``test_fraction`` of the train pool becomes the test part instead.

    Parameters
    ----------
    dataset : MeshDataset
    train_families, test_families : iterable of int, optional
        Disjoint family sets, e.g. ``[4]`` and ``[0, 1, 2, 3]`` (BENO).
    val_fraction, test_fraction : float
        Fractions in ``[0, 1)`` of the train pool.
    seed : int

    Returns
    -------
    (train, val, test) : MeshDataset views (``index_select``), each in sample order.
    """
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(frac) < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {frac!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError("val_fraction + test_fraction must be below 1")
    fam = dataset.families_of_items()
    present = sorted(set(int(f) for f in fam))
    test_set = set(_family_list(test_families, "test_families")) if test_families is not None else set()
    train_set = set(_family_list(train_families, "train_families")) if train_families is not None else set(present) - test_set
    overlap = train_set & test_set
    if overlap:
        raise ConfigError(f"families {sorted(overlap)} are in both train_families and test_families")
    pool = np.flatnonzero(np.isin(fam, sorted(train_set)))
    test = np.flatnonzero(np.isin(fam, sorted(test_set)))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(pool)
    n_val = int(round(val_fraction * len(pool)))
    n_test = int(round(test_fraction * len(pool))) if test_families is None else 0
    val = np.sort(perm[:n_val])
    extra_test = perm[n_val : n_val + n_test]
    train = np.sort(perm[n_val + n_test :])
    test = np.sort(np.concatenate([test, extra_test]).astype(np.int64))
    return dataset.index_select(train.tolist()), dataset.index_select(val.tolist()), dataset.index_select(test.tolist())
