"""The problem registry: sample layout, boundary conditions, reproducibility, option errors."""
import numpy as np
import pytest

from graphops.data import get_problem, parse_families, problem_names
from graphops.errors import ConfigError
from graphops.mesh import Mesh
from graphops.solvers import solve_poisson

POISSON = ["poisson-dirichlet", "poisson-neumann", "poisson-mixed"]


def test_registry_lists_the_problems():
    assert problem_names() == ["elasticity-holes", "elasticity-small-hole", "poisson-dirichlet", "poisson-dirichlet-3d",
                               "poisson-mixed", "poisson-neumann", "poisson-neumann-3d"]
    with pytest.raises(ConfigError, match="unknown problem 'heat'.*poisson-dirichlet"):
        get_problem("heat")


@pytest.mark.parametrize("name", POISSON)
def test_poisson_samples_are_reproducible_tiny_and_consistent(name):
    problem = get_problem(name, tiny=True, cutouts="2,4")
    a, b = problem.sample(5, 1234), problem.sample(5, 1234)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    n = len(a["points"])
    assert 200 <= n <= 500
    for key in ("f", "g", "a", "u", "bc_dirichlet"):
        assert a[key].shape == (n,)
    assert int(a["family"]) in (2, 4) and int(a["index"]) == 5 and int(a["seed"]) == 1234
    assert not np.array_equal(a["u"], problem.sample(5, 99)["u"][:n]) or len(problem.sample(5, 99)["u"]) != n
    # the stored inputs reproduce the stored solution
    mesh = Mesh(a["points"], {"triangle": a["cells"], "line": a["facets"]})
    boundary = np.zeros(n, bool)
    boundary[a["facets"].ravel()] = True
    assert np.all(a["g"][~boundary] == 0.0)
    if name == "poisson-dirichlet":
        assert np.array_equal(a["bc_dirichlet"], boundary)
        assert np.allclose(a["u"][boundary], a["g"][boundary])
        assert np.allclose(solve_poisson(mesh, f=a["f"], a=a["a"], g=a["g"]), a["u"])
    elif name == "poisson-neumann":
        assert not a["bc_dirichlet"].any()
        u, shift = solve_poisson(mesh, f=a["f"], a=a["a"], dirichlet=None, neumann="all", flux=a["g"], return_shift=True)
        assert abs(shift) < 1e-8  # the stored f is already compatible
        assert np.allclose(u, a["u"])
    else:
        outer = np.zeros(n, bool)
        outer[a["facets"][a["facet_group"] == 0].ravel()] = True
        assert np.array_equal(a["bc_dirichlet"], outer)
        assert np.allclose(a["u"][outer], a["g"][outer])


def test_default_size_gives_one_to_three_thousand_nodes():
    sample = get_problem("poisson-dirichlet").sample(0, 1)
    assert 1000 <= len(sample["points"]) <= 3000


def test_elasticity_sample_fields():
    s = get_problem("elasticity-holes", tiny=True).sample(0, 7)
    n = len(s["points"])
    assert 200 <= n <= 500
    assert s["displacement"].shape == (n, 2) and s["von_mises"].shape == (n,)
    assert np.all(s["displacement"][s["bc_dirichlet"]] == 0.0)
    assert s["von_mises"].max() > 0 and int(s["family"]) == 1
    top = np.isclose(s["points"][:, 1], 1.0)
    assert np.all(s["g"][top] == 1.0) and np.all(s["g"][~top] == 0.0)


@pytest.mark.parametrize("value,expected", [(4, [4]), ("0,1,2,3", [0, 1, 2, 3]), ([3, 1, 3], [1, 3]), (" 2 ", [2])])
def test_parse_families(value, expected):
    assert parse_families(value) == expected


@pytest.mark.parametrize("value", ["", "5", "a,b", "1,,2", [], [1.5], True, None, -1])
def test_bad_cutouts_are_config_errors(value):
    with pytest.raises(ConfigError, match="cutouts must be integers in 0..4"):
        get_problem("poisson-mixed", cutouts=value if value is not None else "none")


@pytest.mark.parametrize("options,match", [
    ({"cutout": 4}, "no option 'cutout'"),
    ({"mesh_size": -0.1}, "mesh_size"),
    ({"order": 3}, "order"),
    ({"coefficient": "wild"}, "coefficient"),
    ({"cutout_size": [0.2, 0.6]}, "cutout_size"),
    ({"aspect": 0.5}, "aspect.*>= 1"),
    ({"aspect": [2, 1.5]}, "aspect must have low <= high"),
    ({"mesh_size": [0.02, 0.04, 0.08]}, "mesh_size must be a number or a pair"),
    ({"mesh_size": "0.02,2"}, r"mesh_size must be in \(0, 1\]"),
])
def test_bad_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        get_problem("poisson-dirichlet", **options)


def test_random_coefficient_and_p2_option():
    s = get_problem("poisson-dirichlet", tiny=True, coefficient="random", order=2).sample(0, 3)
    assert 0.5 < s["a"].min() < s["a"].max() < 2.0
    with pytest.raises(ConfigError, match="nu"):
        get_problem("elasticity-holes", nu=0.7)


def test_small_hole_stress_concentration_matches_kirsch():
    """Kirsch: a small circular hole under uniaxial tension s has hoop stress 3 s at its sides.

    Plane strain (nu = 0.3): far field von Mises sqrt(1 + nu^2 - nu) s = 0.889 s; at the
    hole's sides sigma = (3 s, 0, 3 nu s), von Mises 2.67 s (a P1 projection on a
    finite mesh reads a little lower).
    """
    s = get_problem("elasticity-small-hole", grading=10).sample(0, 1)
    vm = s["von_mises"]
    assert vm.shape == (len(s["points"]),) and s["displacement"].shape == (len(s["points"]), 2)
    far = np.abs(s["points"][:, 1] - 0.5) < 0.3
    assert abs(np.median(vm[far]) - np.sqrt(1 + 0.09 - 0.3)) < 0.05
    assert 2.2 < vm.max() < 2.8


def test_small_hole_bad_grading_is_a_config_error():
    with pytest.raises(ConfigError, match="grading"):
        get_problem("elasticity-small-hole", grading=0.1)


def test_aspect_and_mesh_size_ranges_draw_proportions_and_resolutions_per_sample():
    problem = get_problem("poisson-dirichlet", aspect=[1.5, 2.5], mesh_size="0.04,0.1", cutouts=0)
    shapes = []
    for seed in range(8):
        s = problem.sample(seed, seed)
        extent = s["points"].max(axis=0) - s["points"].min(axis=0)
        np.testing.assert_allclose(s["points"].min(axis=0), 0.0, atol=1e-12)  # every domain starts at the origin
        assert extent.max() == pytest.approx(1.0) and 1.5 - 1e-9 <= extent.max() / extent.min() <= 2.5 + 1e-9
        shapes.append((int(np.argmin(extent)), len(s["points"])))
        # the stored solution is the FEM solution of the stored inputs on the stretched domain
        mesh = Mesh(s["points"], {"triangle": s["cells"]})
        np.testing.assert_allclose(solve_poisson(mesh, f=s["f"], dirichlet="all", g=s["g"]), s["u"], atol=1e-10)
    assert {axis for axis, _ in shapes} == {0, 1}  # the short side is along x or along y
    assert len({n for _, n in shapes}) > 4  # resolutions differ between samples
    # a degenerate range is the number itself: the same samples as before the option existed
    same = get_problem("poisson-dirichlet", tiny=True, aspect=[1, 1], mesh_size=[0.06, 0.06]).sample(0, 5)
    plain = get_problem("poisson-dirichlet", tiny=True).sample(0, 5)
    assert all(np.array_equal(same[k], plain[k]) for k in plain)


def test_boundary_scale_multiplies_g_and_the_solution_follows_linearity():
    plain = get_problem("poisson-dirichlet", tiny=True).sample(0, 7)
    scaled = get_problem("poisson-dirichlet", tiny=True, boundary_scale=0.1).sample(0, 7)
    np.testing.assert_array_equal(scaled["points"], plain["points"])
    np.testing.assert_array_equal(scaled["f"], plain["f"])
    np.testing.assert_allclose(scaled["g"], 0.1 * plain["g"], rtol=1e-15)
    # u = u_f + u_g with u_g linear in g: the solution with g = 0 recovers the source part
    mesh = Mesh(plain["points"], {"triangle": plain["cells"]})
    u_source = solve_poisson(mesh, f=plain["f"], dirichlet="all", g=np.zeros(len(plain["g"])))
    np.testing.assert_allclose(scaled["u"], u_source + 0.1 * (plain["u"] - u_source), atol=1e-10)
    with pytest.raises(ConfigError, match="boundary_scale must be a positive number"):
        get_problem("poisson-dirichlet", boundary_scale=0)
