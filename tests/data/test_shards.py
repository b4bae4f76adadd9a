"""Shard packing: concatenation with offsets, no pickle, atomic files, clear errors."""
import numpy as np
import pytest

from graphops.data.shards import pack_samples, read_shard, unpack_sample, write_shard
from graphops.errors import DataError


def _samples():
    rng = np.random.default_rng(0)
    out = []
    for i, n in enumerate([5, 3, 7]):
        out.append({"points": rng.random((n, 2)), "mask": rng.random(n) > 0.5, "u": rng.random(n),
                    "index": np.asarray(i), "family": np.asarray(i % 2)})
    return out


def test_roundtrip_variable_sizes(tmp_path):
    samples = _samples()
    path = tmp_path / "shard-00000.npz"
    write_shard(path, samples)
    arrays = read_shard(path)
    assert arrays["points"].shape == (15, 2) and list(arrays["points__offsets"]) == [0, 5, 8, 15]
    for j, s in enumerate(samples):
        back = unpack_sample(arrays, j)
        assert back.keys() == s.keys()
        for k in s:
            assert np.array_equal(back[k], s[k]) and back[k].dtype == np.asarray(s[k]).dtype
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_bad_samples_and_files_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="object"):
        pack_samples([{"index": np.asarray(0), "x": np.array([{"a": 1}], dtype=object)}])
    with pytest.raises(DataError, match="keys"):
        pack_samples([{"index": np.asarray(0)}, {"index": np.asarray(1), "u": np.ones(2)}])
    with pytest.raises(DataError, match="missing"):
        read_shard(tmp_path / "nope.npz")
    path = tmp_path / "shard-00001.npz"
    write_shard(path, _samples())
    data = path.read_bytes()
    truncated = tmp_path / "shard-00002.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="shard-00002.npz: cannot read shard"):
        read_shard(truncated)
