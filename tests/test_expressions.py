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
