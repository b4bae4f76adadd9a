"""Tiny generated datasets shared by the data tests."""
import pytest

from graphops.data import generate_dataset


@pytest.fixture(scope="session")
def mixed_dataset(tmp_path_factory):
    """12 tiny poisson-mixed samples over all cut-out families, shards of 4."""
    out = tmp_path_factory.mktemp("mixed") / "ds"
    return generate_dataset("poisson-mixed", 12, out, seed=3, tiny=True, shard_size=4, progress=False)


@pytest.fixture(scope="session")
def elasticity_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("elasticity") / "ds"
    return generate_dataset("elasticity-holes", 3, out, tiny=True, shard_size=2, progress=False)
