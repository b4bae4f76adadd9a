"""MeshDataset: lazy shards, graph fields, family filters and splits, mesh reconstruction, NaN checks."""
import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from graphops.data import MeshDataset, generate_dataset, split_by_family
from graphops.data.shards import read_shard, write_shard, unpack_sample
from graphops.errors import ConfigError, DataError


def test_items_carry_graph_and_problem_fields(mixed_dataset):
    ds = MeshDataset(mixed_dataset)
    assert len(ds) == 12 and ds.problem == "poisson-mixed"
    data = ds[5]
    n = data.num_nodes
    assert data.pos.shape == (n, 2) and data.edge_index.shape[0] == 2
    for key in ("f", "g", "a", "u"):
        assert data[key].shape == (n,) and data[key].dtype == torch.float32
    assert data.bc_dirichlet.dtype == torch.bool and data.bc_dirichlet.any()
    assert data.y.shape == (n, 1) and torch.equal(data.y[:, 0], data.u)
    assert data.sample_id == 5 and data.family in range(5)
    assert not data.g[~data.boundary_mask].any()  # boundary data vanish inside
    raw = ds.raw_sample(5)
    assert np.allclose(raw["u"], data.u.numpy(), atol=1e-6)


def test_family_filter_and_split_by_family(mixed_dataset):
    full = MeshDataset(mixed_dataset)
    fams = full.families_of_items()
    only4 = MeshDataset(mixed_dataset, families=[4])
    assert len(only4) == int((fams == 4).sum()) and all(d.family == 4 for d in only4)
    train, val, test = split_by_family(full, train_families=[3, 4], test_families=[0, 1, 2], val_fraction=0.3, seed=1)
    assert len(train) + len(val) + len(test) == 12
    assert set(train.families_of_items()) | set(val.families_of_items()) <= {3, 4}
    assert set(test.families_of_items()) <= {0, 1, 2}
    assert not set(train.sample_ids()) & set(val.sample_ids())
    again = split_by_family(full, [3, 4], [0, 1, 2], 0.3, 1)
    assert list(again[1].sample_ids()) == list(val.sample_ids())
    as_split = MeshDataset(mixed_dataset, split="test", train_families=[3, 4], test_families=[0, 1, 2], val_fraction=0.3, split_seed=1)
    assert list(as_split.sample_ids()) == list(test.sample_ids())
    with pytest.raises(ConfigError, match="both"):
        split_by_family(full, [1, 2], [2, 3])
    with pytest.raises(ConfigError, match="split"):
        MeshDataset(mixed_dataset, split="holdout")


def test_batches_with_a_dataloader(mixed_dataset):
    loader = DataLoader(MeshDataset(mixed_dataset), batch_size=4, shuffle=False)
    batch = next(iter(loader))
    assert batch.num_graphs == 4 and batch.y.shape == (batch.num_nodes, 1)
    assert batch.family.shape == (4,) and list(batch.sample_id) == [0, 1, 2, 3]


def test_mesh_reconstruction_keeps_groups_and_fields(mixed_dataset):
    ds = MeshDataset(mixed_dataset)
    for i in range(len(ds)):
        mesh = ds.mesh(i)
        assert "outer" in mesh.groups
        assert ("cutout" in mesh.groups) == (ds[i].family > 0)
        assert np.array_equal(mesh.point_data["bc_dirichlet"], ds[i].bc_dirichlet.numpy())


def test_elasticity_items_target_von_mises(elasticity_dataset):
    ds = MeshDataset(elasticity_dataset, radius=0.05)
    data = ds[2]
    assert data.y.shape == (data.num_nodes, 1) and torch.equal(data.y[:, 0], data.von_mises)
    assert data.displacement.shape == (data.num_nodes, 2)
    assert ds.mesh(0).group("void").dim == 1


def test_nan_in_a_stored_field_names_shard_and_sample(tmp_path):
    root = generate_dataset("poisson-dirichlet", 4, tmp_path / "ds", tiny=True, shard_size=2, progress=False)
    path = root / "shards" / "shard-00001.npz"
    arrays = read_shard(path)
    samples = [unpack_sample(arrays, j) for j in range(2)]
    samples[1] = {k: np.array(v) for k, v in samples[1].items()}
    samples[1]["f"][3] = np.nan
    write_shard(path, samples)
    ds = MeshDataset(root)
    ds[2]  # the other sample of the shard is fine
    with pytest.raises(DataError, match=r"shard-00001.npz: sample 3 has NaN or infinite values in field 'f'"):
        ds[3]


def test_missing_or_incomplete_datasets_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="no dataset manifest"):
        MeshDataset(tmp_path)
    root = generate_dataset("poisson-dirichlet", 2, tmp_path / "ds", tiny=True, progress=False)
    manifest = (root / "manifest.json").read_text().replace('"complete": true', '"complete": false')
    (root / "manifest.json").write_text(manifest)
    with pytest.raises(DataError, match="incomplete"):
        MeshDataset(root)
