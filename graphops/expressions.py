"""Safe evaluation of user formulas such as ``"sin(pi*x)*y + 1"`` at mesh nodes.

The formula is parsed with :mod:`ast` and evaluated by walking the tree, never with
``eval``: every number is a float64 (so ``9**9**9`` is ``inf`` at once instead of a
Python integer with billions of digits), every operation is a vectorised numpy call on
the node coordinates, and the formula's size and evaluation time are bounded. Conditions
are written ``where(cond, a, b)`` (comparisons ``< <= > >= == !=`` are allowed inside),
not ``a if cond else b`` / ``and`` / ``or``.

A result that is not finite at some node is an error naming the cause (division by zero,
float64 overflow, invalid operation such as ``sqrt(-1)``) and the first such node. A
non-finite value in a branch that ``where`` discards is not an error:
``where(x > 0, 1/x, 0)`` is fine at ``x = 0``.
"""
from __future__ import annotations

import ast
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from .errors import ConfigError

#: Callable functions and their number of arguments.
_FUNCTIONS: Dict[str, tuple] = {
    **{name: (getattr(np, name), 1) for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sinh", "cosh", "arctan", "sign")},
    **{name: (getattr(np, name), 2) for name in ("arctan2", "minimum", "maximum")},
    "where": (np.where, 3),
}
_CONSTANTS = {"pi": np.pi, "e": np.e}
_BINARY: Dict[type, Callable] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.Mod: np.mod,
}
_UNARY: Dict[type, Callable] = {ast.USub: np.negative, ast.UAdd: np.positive}
_COMPARE: Dict[type, Callable] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_WHY = {
    ast.Div: "division by zero", ast.Mod: "remainder of a division by zero",
    ast.Pow: "a power that overflows float64 or is undefined (negative base, fractional exponent)",
}

#: Longest formula accepted (characters) and most syntax-tree nodes.
MAX_LENGTH = 2000
MAX_NODES = 500
#: Evaluation time limit (seconds), checked after every operation.
TIME_LIMIT = 10.0

_HINT_WHERE = "use where(condition, value_if_true, value_if_false), e.g. where(x > 0.5, 1, 0)"


def _show(expr: str) -> str:
    """The formula quoted for an error message, shortened to one readable line."""
    return repr(expr if len(expr) <= 60 else expr[:57] + "...")


def _names() -> str:
    return ", ".join(sorted(_FUNCTIONS))


class _Evaluator:
    """Walks a checked syntax tree; remembers the first operation that created NaN/inf."""

    def __init__(self, expr: str, name: str, names: Dict[str, np.ndarray], time_limit: float) -> None:
        self.expr, self.name, self.names = expr, name, names
        self.time_limit = time_limit
        self.deadline = time.monotonic() + time_limit
        self.causes: List[str] = []

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.name} {_show(self.expr)}: {problem}")

    def _note(self, value, inputs, cause: str):
        if time.monotonic() > self.deadline:
            raise self.fail(f"evaluation took longer than {self.time_limit:g} s")
        bad_out = ~np.isfinite(value)
        if bad_out.any():
            bad_in = np.zeros(np.shape(value), dtype=bool)
            for v in inputs:
                bad_in = bad_in | ~np.isfinite(np.broadcast_to(v, np.shape(value)))
            if (bad_out & ~bad_in).any():
                self.causes.append(cause)
        return value

    def __call__(self, node: ast.AST):
        if isinstance(node, ast.Expression):
            return self(node.body)
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.Name):
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self(node.operand))
        if isinstance(node, ast.BinOp):
            a, b = self(node.left), self(node.right)
            with np.errstate(all="ignore"):
                out = _BINARY[type(node.op)](a, b)
            why = _WHY.get(type(node.op), f"float64 overflow in {type(node.op).__name__.lower()}")
            if isinstance(node.op, ast.Div) and not np.any(np.asarray(b) == 0):
                why = "float64 overflow in a division"
            return self._note(out, (a, b), why)
        if isinstance(node, ast.Compare):
            left, result = self(node.left), None
            for op, right_node in zip(node.ops, node.comparators):
                right = self(right_node)
                part = _COMPARE[type(op)](left, right)
                result = part if result is None else np.logical_and(result, part)
                left = right
            return result
        if isinstance(node, ast.Call):
            fn, _ = _FUNCTIONS[node.func.id]
            args = [self(a) for a in node.args]
            if node.func.id == "where":
                return np.where(np.asarray(args[0]) != 0, args[1], args[2])
            with np.errstate(all="ignore"):
                out = fn(*args)
            return self._note(out, args, f"{node.func.id}() is not finite there (overflow, or outside its domain)")
        raise self.fail(f"unsupported syntax {type(node).__name__}")  # pragma: no cover - the checker rejects it first


def _check(tree: ast.AST, expr: str, name: str, names: Dict[str, object]) -> None:
    """Reject anything but arithmetic on numbers, coordinates, constants and the known functions."""
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{name} {_show(expr)}: the formula is too long (more than {MAX_NODES} terms)")
        if isinstance(node, (ast.IfExp, ast.BoolOp)) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
            word = "if/else" if isinstance(node, ast.IfExp) else ("not" if isinstance(node, ast.UnaryOp) else type(node.op).__name__.lower())
            raise ConfigError(f"{name} {_show(expr)}: '{word}' is not supported; {_HINT_WHERE}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ConfigError(f"{name} {_show(expr)}: only numbers are allowed as constants (found {node.value!r})")
            try:
                finite = np.isfinite(float(node.value))
            except OverflowError:
                finite = False
            if not finite:
                raise ConfigError(f"{name} {_show(expr)}: the number {(ast.get_source_segment(expr.strip(), node) or str(node.value))[:20]} is too large for float64")
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            continue
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            continue
        if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            continue
        if isinstance(node, ast.Name):
            if node.id not in names:
                raise ConfigError(f"{name} {_show(expr)}: unknown name {node.id!r} (use x, y, z, pi, e, {_names()})")
            if node.id in _FUNCTIONS and not _is_called(tree, node):
                raise ConfigError(f"{name} {_show(expr)}: {node.id} is a function; call it as {node.id}(...)")
            continue
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
                raise ConfigError(f"{name} {_show(expr)}: only the functions {_names()} can be called")
            arity = _FUNCTIONS[node.func.id][1]
            if node.keywords or len(node.args) != arity or any(isinstance(a, ast.Starred) for a in node.args):
                raise ConfigError(f"{name} {_show(expr)}: {node.func.id}() takes {arity} argument{'s' * (arity > 1)}")
            continue
        if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINARY or type(node) in _UNARY or type(node) in _COMPARE:
            continue
        raise ConfigError(f"{name} {_show(expr)}: only arithmetic in x, y, z is allowed (found {type(node).__name__})")


def _is_called(tree: ast.AST, name_node: ast.Name) -> bool:
    return any(isinstance(n, ast.Call) and n.func is name_node for n in ast.walk(tree))


def evaluate_expression(expr: str, points: np.ndarray, name: str = "expression", time_limit: Optional[float] = None) -> np.ndarray:
    """Evaluate ``expr`` in the variables ``x, y`` (and ``z``) at every point, in float64.

    Parameters
    ----------
    expr : str
        Arithmetic (``+ - * / ** %``) in ``x, y, z``, constants ``pi, e`` and the
        functions sin, cos, tan, exp, log, sqrt, abs, tanh, sinh, cosh, arctan, sign,
        arctan2(a, b), minimum(a, b), maximum(a, b) and ``where(cond, a, b)``.
    points : ndarray, shape (N, d)
    name : str
        What the expression is for (used in error messages).
    time_limit : float, optional
        Seconds allowed for the evaluation (default :data:`TIME_LIMIT`).

    Returns
    -------
    ndarray, shape (N,), float64

    Raises
    ------
    ConfigError
        Syntax errors, unknown names, anything but arithmetic (``if/else``, ``and``,
        ``or``: use ``where``), a formula that is too long or too slow, or a result
        that is not finite (division by zero, overflow, invalid operation).
    """
    if not isinstance(expr, str):
        raise ConfigError(f"{name} must be a formula string, got {type(expr).__name__}")
    text = expr.strip()
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"{name}: the formula is too long ({len(text)} characters, at most {MAX_LENGTH})")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{name} {_show(expr)} is not a valid formula ({exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"{name} {_show(expr)} is not a valid formula ({type(exc).__name__}: {str(exc)[:80]})") from None
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    zeros = np.zeros(n)
    coords = {"x": points[:, 0], "y": points[:, 1] if points.shape[1] > 1 else zeros, "z": points[:, 2] if points.shape[1] > 2 else zeros}
    names: Dict[str, object] = {**{k: f for k, (f, _) in _FUNCTIONS.items()}, **_CONSTANTS, **coords}
    _check(tree, expr, name, names)
    values = {**{k: np.float64(v) for k, v in _CONSTANTS.items()}, **coords}
    evaluator = _Evaluator(expr, name, values, TIME_LIMIT if time_limit is None else time_limit)
    try:
        value = evaluator(tree)
    except RecursionError:
        raise ConfigError(f"{name} {_show(expr)}: the formula is nested too deeply") from None
    out = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        cause = evaluator.causes[0] if evaluator.causes else "the result is not finite"
        raise ConfigError(f"{name} {_show(expr)} is not finite at node {first} ({points[first].tolist()}): {cause}")
    return out
