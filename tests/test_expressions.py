import numpy as np
import pytest

from graphops.errors import ConfigError
from graphops.expressions import evaluate_expression


def test_formulas():
    p = np.random.default_rng(0).random((20, 2))
    np.testing.assert_allclose(evaluate_expression("sin(pi*x)*y + 1", p), np.sin(np.pi * p[:, 0]) * p[:, 1] + 1)
    np.testing.assert_allclose(evaluate_expression("2", p), 2.0)
    np.testing.assert_allclose(evaluate_expression("where(x > 0.5, 1, 0)", p), (p[:, 0] > 0.5).astype(float))
    np.testing.assert_allclose(evaluate_expression("z", np.ones((3, 3))), 1.0)


@pytest.mark.parametrize(
    "expr,match",
    [("x +", "not a valid formula"), ("q*x", "unknown name 'q'"), ("__import__('os')", "only the functions"),
     ("x.real", "only arithmetic"), ("[x]", "only arithmetic"), ("log(x - 2)", "not finite at node")],
)
def test_rejected(expr, match):
    with pytest.raises(ConfigError, match=match):
        evaluate_expression(expr, np.random.rand(5, 2), "source")


# --- safety: float64 numbers, one-line errors, no if/else/and/or, bounded time -------------

POINTS = np.random.default_rng(1).random((40, 2))


@pytest.mark.parametrize(
    "expr,match",
    [
        ("1/0", "division by zero"),
        ("x % 0", "division by zero"),
        ("2**10000", "overflows float64"),
        ("9**9**9", "overflows float64"),
        ("exp(1000*x)", r"exp\(\) is not finite"),
        ("sqrt(-1 - x)", r"sqrt\(\) is not finite"),
        ("1e400", "too large for float64"),
        ("1" * 400, "too large for float64"),
        ("x if x > 0 else 0", "'if/else' is not supported; use where"),
        ("x > 0 and y > 0", "'and' is not supported; use where"),
        ("x > 0 or y > 0", "'or' is not supported; use where"),
        ("not x", "'not' is not supported; use where"),
        ("sin(x, y)", r"sin\(\) takes 1 argument"),
        ("where(x > 0, 1)", r"where\(\) takes 3 arguments"),
        ("sin", "is a function"),
        ("'a'", "only numbers"),
        ("True", "only numbers"),
        ("(" * 300 + "x" + ")" * 300, "not a valid formula|too long|nested too deeply"),
        ("x" + "+x" * 600, "too long"),
        ("lambda: 1", "only arithmetic"),
    ],
)
def test_unsafe_or_non_finite_formulas_are_one_line_config_errors(expr, match):
    with pytest.raises(ConfigError, match=match) as info:
        evaluate_expression(expr, POINTS, "source")
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_numbers_are_float64_and_where_masks_discarded_branches():
    # Python integers would be exact here; float64 rounds 2**53 + 1 down and overflows past 2**1023
    np.testing.assert_array_equal(evaluate_expression("2**53 + 1", POINTS), float(2**53))
    np.testing.assert_array_equal(evaluate_expression("7/2", POINTS), 3.5)
    out = evaluate_expression("where(x > 0.5, 1/(x - x), -1)", np.array([[0.25, 0.0], [0.1, 0.0]]))
    np.testing.assert_array_equal(out, [-1.0, -1.0])
    np.testing.assert_array_equal(evaluate_expression("0.25 < x < 0.5", np.array([[0.3, 0], [0.6, 0], [0.1, 0]])), [1.0, 0.0, 0.0])
    assert evaluate_expression("x", POINTS.astype(np.float32)).dtype == np.float64


def test_time_limit():
    with pytest.raises(ConfigError, match="longer than 0 s"):
        evaluate_expression("sin(x)*cos(y)*exp(x)*tanh(y)", POINTS, "source", time_limit=0.0)


# --- property tests: the evaluator against a direct numpy computation ---------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_UNARY = {"sin": np.sin, "cos": np.cos, "exp": np.exp, "tanh": np.tanh, "abs": np.abs, "sqrt": np.sqrt, "log": np.log}
_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power}


def _leaf():
    numbers = st.floats(min_value=-50, max_value=50, allow_nan=False).map(lambda v: (repr(abs(v)), lambda p, v=abs(v): np.full(len(p), v)))
    ints = st.integers(0, 400).map(lambda v: (str(v), lambda p, v=v: np.full(len(p), float(v))))
    coords = st.sampled_from([("x", lambda p: p[:, 0]), ("y", lambda p: p[:, 1]), ("pi", lambda p: np.full(len(p), np.pi))])
    return numbers | ints | coords


def _extend(children):
    unary = st.tuples(st.sampled_from(sorted(_UNARY)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda p, f=_UNARY[t[0]], a=t[1][1]: f(a(p))))
    neg = children.map(lambda c: (f"-({c[0]})", lambda p, a=c[1]: -a(p)))
    binary = st.tuples(children, st.sampled_from(sorted(_BINARY)), children).map(
        lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})", lambda p, f=_BINARY[t[1]], a=t[0][1], b=t[2][1]: f(a(p), b(p))))
    where = st.tuples(children, children, children).map(
        lambda t: (f"where(({t[0][0]}) > 0.5, {t[1][0]}, {t[2][0]})",
                   lambda p, c=t[0][1], a=t[1][1], b=t[2][1]: np.where(c(p) > 0.5, a(p), b(p))))
    return unary | neg | binary | where


FORMULAS = st.recursive(_leaf(), _extend, max_leaves=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FORMULAS)
def test_evaluator_matches_numpy_or_refuses_non_finite(formula):
    text, oracle = formula
    with np.errstate(all="ignore"):
        expected = oracle(POINTS)
    if np.isfinite(expected).all():
        np.testing.assert_allclose(evaluate_expression(text, POINTS), expected, rtol=1e-12, atol=0)
    else:
        with pytest.raises(ConfigError, match="is not finite at node"):
            evaluate_expression(text, POINTS)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyz0123456789.+-*/%()<>=! ,eipwhrsnctaolgqbmdf_[]'\"", max_size=60))
def test_arbitrary_text_is_a_finite_array_or_a_config_error_quickly(text):
    import time

    start = time.perf_counter()
    try:
        out = evaluate_expression(text, POINTS)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert out.dtype == np.float64 and out.shape == (len(POINTS),) and np.isfinite(out).all()
    assert time.perf_counter() - start < 2.0
