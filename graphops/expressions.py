"""Safe evaluation of user formulas such as ``"sin(pi*x)*y + 1"`` at mesh nodes."""
from __future__ import annotations

import ast
from typing import Dict

import numpy as np

from .errors import ConfigError

_FUNCTIONS = {
    name: getattr(np, name)
    for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh", "arctan", "arctan2", "minimum", "maximum", "where", "sign")
}
_CONSTANTS = {"pi": np.pi, "e": np.e}
_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant, ast.Compare,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.USub, ast.UAdd,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq, ast.BoolOp, ast.And, ast.Or, ast.IfExp,
)


def evaluate_expression(expr: str, points: np.ndarray, name: str = "expression") -> np.ndarray:
    """Evaluate ``expr`` in the variables ``x, y`` (and ``z``) at every point.

    Parameters
    ----------
    expr : str
        Arithmetic in ``x, y, z``, constants ``pi, e`` and numpy functions
        (sin, cos, exp, log, sqrt, abs, tanh, where, minimum, maximum...).
    points : ndarray, shape (N, d)
    name : str
        What the expression is for (used in error messages).

    Returns
    -------
    ndarray, shape (N,)

    Raises
    ------
    ConfigError
        Syntax errors, unknown names, anything but arithmetic, or non-finite results.
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{name} {expr!r} is not a valid formula ({exc.msg})") from None
    coords = {"x": points[:, 0], "y": points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))}
    coords["z"] = points[:, 2] if points.shape[1] > 2 else np.zeros(len(points))
    names: Dict[str, object] = {**_FUNCTIONS, **_CONSTANTS, **coords}
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ConfigError(f"{name} {expr!r}: only arithmetic in x, y, z is allowed (found {type(node).__name__})")
        if isinstance(node, ast.Name) and node.id not in names:
            raise ConfigError(f"{name} {expr!r}: unknown name {node.id!r} (use x, y, z, pi, e, {', '.join(sorted(_FUNCTIONS))})")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise ConfigError(f"{name} {expr!r}: only the functions {', '.join(sorted(_FUNCTIONS))} can be called")
    with np.errstate(all="ignore"):
        value = eval(compile(tree, "<expression>", "eval"), {"__builtins__": {}}, names)  # noqa: S307 - AST checked above
    out = np.broadcast_to(np.asarray(value, dtype=np.float64), (len(points),)).copy()
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ConfigError(f"{name} {expr!r} is not finite at node {bad} ({points[bad].tolist()})")
    return out
