"""Check a SymPy expression a student derived against the reference expression.

:func:`check_expression` first tries to prove the equality exactly with
:func:`mlteach.symbolic.functions.is_identity` (SymPy simplifies the difference to 0, within a
time limit); failing that, it compares the two expressions at random points, re-evaluating with
50 digits any point where double precision disagrees (so an equal expression that cancels badly
in floats is not rejected). An expression that agrees at every point but resists SymPy's
simplification is accepted, and the result says so. When the expressions differ, the hint names
the likely mistake: one of the exercise's known wrong forms, a flipped sign, a missing factor or
an extra additive term. A matrix, an undefined value (``zoo``, ``nan``) or an integral SymPy
cannot compute is named as such; an error of the checker's own code is a checker error, not
the student's.

Symbols are matched by name, so a student may create them with other assumptions
(``sp.Symbol("x")`` for the exercise's ``sp.Symbol("x", real=True)``).

>>> import sympy as sp
>>> x, t = sp.symbols("x t", positive=True)
>>> check_expression(sp.exp(2 * x) * t, t * sp.exp(x) ** 2, [x, t]).passed
True
>>> check_expression(-sp.sin(x), sp.sin(x), [x]).hint
'your expression differs from the reference by a sign: it equals -1 times the reference.'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from mlteach.symbolic.functions import is_identity

from .feedback import CheckResult, Failure, TimeUp, run_cases, time_limit

__all__ = ["check_expression", "POINTS", "EXACT_TIME_LIMIT", "DIGITS"]

#: Random points at which two expressions are compared.
POINTS = 8
#: Seconds SymPy may spend proving an equality (or evaluating an integral) before the checker
#: falls back to numbers.
EXACT_TIME_LIMIT = 5.0
#: Significant digits of the re-evaluation of points where double precision disagrees.
DIGITS = 50
_RTOL, _ATOL = 1e-7, 1e-10
_SIMPLE = 6  # operations in a factor or term short enough to show in a hint
_SIMPLIFY_LIMIT = 40  # operations (both expressions) above which no wrong answer is simplified (slow)


def _sample_values(symbols: Sequence[sp.Symbol], ranges: Mapping[str, tuple[float, float]],
                   points: int) -> dict[sp.Symbol, np.ndarray]:
    rng = np.random.default_rng(0)
    values = {}
    for symbol in symbols:
        low, high = ranges.get(symbol.name, (0.5, 3.0) if symbol.is_positive else (-2.0, 2.0))
        values[symbol] = rng.uniform(low, high, points)
    return values


def _evaluate(expr: sp.Expr, values: dict[sp.Symbol, np.ndarray]) -> np.ndarray:
    """``expr`` at every point, as complex numbers; NaN where it cannot be evaluated."""
    symbols = list(values)
    function = sp.lambdify(symbols, expr, modules="numpy")
    with np.errstate(all="ignore"):
        result = np.asarray(function(*(values[s].astype(complex) for s in symbols)), dtype=complex)
    return np.broadcast_to(result, next(iter(values.values())).shape)


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.isfinite(a) & np.isfinite(b) & np.isclose(a, b, rtol=_RTOL, atol=_ATOL)


def _format(value: complex) -> str:
    return f"{value.real:.6g}" if abs(value.imag) <= 1e-12 * max(1.0, abs(value)) else f"{value:.4g}"


def _same_constant(values: np.ndarray) -> complex | None:
    if not np.all(np.isfinite(values)):
        return None
    return values[0] if np.allclose(values, values[0], rtol=1e-6, atol=1e-9) else None


def _recognised(value: float) -> sp.Expr | None:
    """A short closed form of ``value`` (a small fraction, or one with pi, e or log 2), or None."""
    guess = sp.nsimplify(value, [sp.pi, sp.E, sp.log(2)], tolerance=1e-9)
    fractions_ok = all(abs(r.q) <= 24 and abs(r.p) <= 100 for r in guess.atoms(sp.Rational))
    return guess if fractions_ok and sp.count_ops(guess) <= 4 and np.isclose(float(guess), value) else None


def _short(expr: sp.Expr) -> bool:
    return sp.count_ops(expr) <= _SIMPLE


def _diagnose(student: sp.Expr, reference: sp.Expr, theirs: np.ndarray, expected: np.ndarray,
              mistakes: Sequence[tuple[sp.Expr, str]], values: dict[sp.Symbol, np.ndarray]) -> str:
    """The hint for an expression that differs from the reference."""
    for wrong, hint in mistakes:
        wrong_values = _evaluate(wrong, values)
        if np.all(_close(theirs, wrong_values)) and not np.all(_close(wrong_values, expected)):
            return hint
    if np.allclose(theirs, 0, atol=_ATOL):
        return "your expression is 0 at every point tested; the reference is not."
    with np.errstate(all="ignore"):
        ratio = _same_constant(theirs / expected)
        gap = _same_constant(theirs - expected)
    if ratio is not None and np.isclose(ratio, -1):
        return "your expression differs from the reference by a sign: it equals -1 times the reference."
    factor = _recognised(ratio.real) if ratio is not None and abs(ratio) > 1e-12 else None
    if factor is None and gap is not None:
        return (f"your expression is the reference plus the constant {_recognised(gap.real) or _format(gap)}: "
                "look for a term that should not be there or one that is missing.")
    if ratio is not None and abs(ratio) > 1e-12:
        return (f"your expression is the reference multiplied by the constant {factor or _format(ratio)}: look "
                "for a missing or extra constant factor.")
    if sp.count_ops(student) + sp.count_ops(reference) <= _SIMPLIFY_LIMIT:
        symbolic_ratio = sp.simplify(student / reference)
        if _short(symbolic_ratio):
            return (f"your expression is the reference multiplied by {symbolic_ratio}: look for a missing or "
                    "extra factor.")
        symbolic_gap = sp.simplify(student - reference)
        if _short(symbolic_gap):
            return f"your expression is the reference plus {symbolic_gap}: look for a missing or extra term."
    return ("your expression differs from the reference; evaluate both at the point shown and compare them "
            "term by term.")


def _parse(submission, by_name: Mapping[str, sp.Symbol]) -> sp.Expr:
    """The submission as a scalar SymPy expression in the exercise's symbols, its unevaluated
    integrals, derivatives, sums and limits evaluated; a :class:`Failure` naming what is wrong."""
    if isinstance(submission, (sp.MatrixBase, list, tuple, np.ndarray)):
        kind = "Matrix" if isinstance(submission, sp.MatrixBase) else type(submission).__name__
        raise Failure(f"a {kind}, not a single expression",
                      "the answer is one scalar expression: take the entry you mean (for example m[0]) "
                      "instead of the whole matrix or list.")
    try:
        expr = sp.sympify(submission)
    except (sp.SympifyError, TypeError) as error:
        raise Failure(f"not a SymPy expression: {error}",
                      "give a SymPy expression built from the exercise's symbols.") from error
    if not isinstance(expr, sp.Expr):
        raise Failure(f"a {type(expr).__name__}, not an expression",
                      "give an expression (for example 1 / (1 + sp.exp(-g))), not an equation, a boolean or a set.")
    unevaluated = (sp.Integral, sp.Derivative, sp.Sum, sp.Product, sp.Limit)
    if expr.has(*unevaluated):
        try:
            with time_limit(EXACT_TIME_LIMIT):
                expr = expr.doit()
        except TimeUp:
            raise Failure(f"SymPy could not evaluate the unevaluated integral (sum, limit) within {EXACT_TIME_LIMIT:g} s",
                          "carry out the integral (sum, limit) by hand and enter the closed form.") from None
        left = sorted({type(atom).__name__ for atom in expr.atoms(*unevaluated)})
        if left:
            raise Failure(f"contains an unevaluated {', '.join(left)} that SymPy cannot compute",
                          "carry out the integral (sum, limit) by hand and enter the closed form.")
    undefined = [name for atom, name in ((sp.zoo, "zoo (complex infinity)"), (sp.nan, "nan"),
                                         (sp.oo, "oo (infinity)"), (-sp.oo, "-oo")) if expr.has(atom)]
    if undefined:
        raise Failure(f"contains {', '.join(undefined)}",
                      "SymPy writes zoo for a division by zero (1/0, or 1/x with x = 0 substituted) and nan "
                      "for 0/0 or oo - oo: find where your expression divides by zero.")
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in by_name)
    if unknown:
        raise Failure(f"unknown symbols {', '.join(unknown)}",
                      f"build the expression from the exercise's symbols only: {', '.join(by_name)}.")
    return expr.xreplace({s: by_name[s.name] for s in expr.free_symbols})


def _proved_equal(expr: sp.Expr, reference: sp.Expr) -> bool:
    """True if SymPy rewrites ``expr - reference`` to 0 within :data:`EXACT_TIME_LIMIT` seconds."""
    try:
        with time_limit(EXACT_TIME_LIMIT):
            return is_identity(expr, reference)
    except TimeUp:
        return False


def _agree_exactly_enough(expr: sp.Expr, reference: sp.Expr, values: dict[sp.Symbol, np.ndarray],
                          index: np.ndarray) -> bool:
    """Whether the two expressions agree at the points ``index`` when evaluated with
    :data:`DIGITS` significant digits (no loss to cancellation in double precision)."""
    for i in index:
        point = {s: sp.Float(float(v[i]), DIGITS) for s, v in values.items()}
        a, b = (complex(e.evalf(DIGITS, subs=point)) for e in (expr, reference))
        if not np.isclose(a, b, rtol=_RTOL, atol=_ATOL):
            return False
    return True


def check_expression(student, reference: sp.Expr, symbols: Sequence[sp.Symbol], *,
                     exercise: str = "your expression", mistakes: Sequence[tuple[sp.Expr, str]] = (),
                     ranges: Mapping[str, tuple[float, float]] | None = None,
                     points: int = POINTS) -> CheckResult:
    """Compare the SymPy expression ``student`` with ``reference``, a function of ``symbols``.

    The comparison is exact where SymPy can prove it (the difference rewrites to 0 within
    :data:`EXACT_TIME_LIMIT` s); otherwise numeric at ``points`` random points, where a
    disagreement in double precision is re-evaluated with :data:`DIGITS` digits before it
    counts (an equal expression that cancels badly in floats is accepted).
    ``mistakes``: known wrong forms ``(expression, hint)``, tried first when the answer is
    wrong. ``ranges``: sampling interval per symbol name (default (0.5, 3) for positive
    symbols, (-2, 2) otherwise). ``student=None`` is the stub: "not implemented yet"."""
    by_name = {symbol.name: symbol for symbol in symbols}
    ranges = dict(ranges or {})
    state: dict[str, sp.Expr] = {}  # the parsed submission, shared by the cases

    def uses_the_exercise_symbols(submission) -> str:
        state["expr"] = _parse(submission, by_name)
        return f"uses {', '.join(sorted(s.name for s in state['expr'].free_symbols)) or 'no symbols'}"

    def equal_to_the_reference(submission) -> str:
        expr = state["expr"]
        if _proved_equal(expr, reference):
            return "SymPy simplifies the difference to 0 (exact)"
        values = _sample_values(symbols, ranges, points)
        theirs, expected = _evaluate(expr, values), _evaluate(reference, values)
        valid = np.isfinite(expected)
        agree = _close(theirs, expected)
        disagree = np.flatnonzero(valid & ~agree)
        if disagree.size and _agree_exactly_enough(expr, reference, values, disagree):
            return (f"agrees with the reference at {int(valid.sum())} random points, evaluated with {DIGITS} "
                    "digits where double precision loses digits to cancellation")
        if disagree.size:
            first = int(disagree[0])
            point = ", ".join(f"{s.name} = {values[s][first]:.3g}" for s in symbols)
            valid_values = {s: v[valid] for s, v in values.items()}
            hint = _diagnose(expr, reference, theirs[valid], expected[valid], mistakes, valid_values)
            raise Failure(f"at {point}: yours {_format(theirs[first])}, expected {_format(expected[first])}", hint)
        return (f"agrees with the reference at {int(valid.sum())} random points; SymPy could not simplify the "
                "difference to 0, so it is accepted on the numeric agreement")

    cases = {"uses the exercise's symbols": uses_the_exercise_symbols,
             "equal to the reference": equal_to_the_reference}
    return run_cases(exercise, student, cases, stop_at_failure=True)
