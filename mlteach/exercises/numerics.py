"""Checkers of the numerics page: the gradient of the epsilon form to derive, a masked
log-sum-exp to implement.

- :func:`check_epsilon_log_gradient`: d/dx of -log(sigma(x) + eps) (SymPy);
- :func:`check_masked_logsumexp`: ``my_masked_logsumexp(values, member, dim)``, the LSE over
  the entries with ``member == 1``, against :func:`mlteach.numerics.masked_logsumexp`.
"""

from __future__ import annotations

import math

import sympy as sp
import torch

from mlteach.numerics import masked_logsumexp
from mlteach.symbolic.functions import sigmoid

from .feedback import CheckResult, Failure, call, run_cases
from .symbolic import check_expression

__all__ = ["epsilon_symbols", "check_epsilon_log_gradient", "check_masked_logsumexp"]


def epsilon_symbols() -> tuple[sp.Symbol, sp.Symbol]:
    """The exercise's symbols: the logit ``x`` (real) and ``eps`` (positive)."""
    return sp.Symbol("x", real=True), sp.Symbol("eps", positive=True)


def check_epsilon_log_gradient(expr) -> CheckResult:
    """Check a SymPy expression for d/dx of -log(sigma(x) + eps)."""
    x, eps = epsilon_symbols()
    s = sigmoid(x)
    mistakes = [
        (s - 1, "that is the gradient without the epsilon, d/dx softplus(-x) = sigma(x) - 1; with eps the "
                "derivative of sigma(x) is divided by sigma(x) + eps, not by sigma(x)."),
        (-1 / (s + eps), "apply the chain rule: the derivative of log(u) is u' / u, and u' = sigma(x) (1 - sigma(x))."),
        (-s * (1 - s) / s, "the denominator is sigma(x) + eps, the argument of the log."),
    ]
    return check_expression(expr, sp.diff(-sp.log(s + eps), x), [x, eps], exercise="gradient of -log(sigma(x) + eps)",
                            mistakes=mistakes, ranges={"x": (-6.0, 6.0), "eps": (0.01, 0.2)})


_CALL = ("your function must accept (values, member, dim) and return the log-sum-exp along dim; read the "
         "traceback of a call on these inputs.")


def _compare(fn, values, member, dim, hint, gradient: bool = True, finite_hint: str | None = None) -> str:
    """Compare value (and gradient) with :func:`masked_logsumexp`; ``finite_hint`` replaces
    ``hint`` when the answer is wrong but finite everywhere the reference is."""
    expected = masked_logsumexp(values.double(), member.double(), dim)
    leaf = values.detach().clone().requires_grad_(gradient)
    result = call(fn, leaf, member.clone(), dim, on_error=_CALL)
    if not isinstance(result, torch.Tensor) or result.shape != expected.shape:
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise Failure(f"returned {shape}", f"return one value per line: shape {tuple(expected.shape)}.")
    got = result.detach().double()
    if bool(torch.isnan(got).any()):
        raise Failure("NaN in the result", hint)
    if not torch.allclose(got, expected, rtol=1e-3 if values.dtype == torch.float16 else 1e-6, atol=1e-6):
        worst = float((got - expected).abs().nan_to_num(math.inf).max())
        finite = bool(torch.isfinite(got[torch.isfinite(expected)]).all())
        raise Failure(f"off by up to {worst:.4g}", finite_hint if finite and finite_hint else hint)
    if gradient:
        if not result.requires_grad:
            raise Failure("the result is not connected to the values",
                          "compute with torch operations on values (no .item(), no NumPy) so autograd can follow.")
        result.sum().backward()
        reference = values.detach().double().requires_grad_()
        masked_logsumexp(reference, member.double(), dim).sum().backward()
        if leaf.grad is None or not torch.isfinite(leaf.grad).all():
            raise Failure("the gradient has NaN", "an empty set's -inf must not reach the backward pass: replace "
                                                  "an all -inf line by 0 before torch.logsumexp, then put -inf back "
                                                  "with torch.where.")
        if not torch.allclose(leaf.grad.double(), reference.grad, atol=1e-6):
            raise Failure("the gradient differs from the closed form m_i e^{v_i - LSE}",
                          "entries outside the set must get exactly 0 and the members their softmax share.")
    return "value" + (" and gradient" if gradient else "") + " as expected"


def check_masked_logsumexp(my_masked_logsumexp) -> CheckResult:
    """Check ``my_masked_logsumexp(values, member, dim)``: log sum_{j: member_j = 1} e^{v_j}
    along ``dim``, ``-inf`` for an empty set with a zero gradient, exact for values of 10^4,
    correct for a set far below the other entries, and free of NaN in float16."""
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    member = (torch.rand(5, 6, generator=generator) < 0.5).double()
    member[:, 0] = 1.0
    log_space = "use torch.logsumexp on the values, with -inf (not a finite constant) outside the set."
    constant = ("a finite mask constant (such as -100 or -1e4) is wrong when the set lies further below the other "
                "entries than the constant: mask with -inf.")
    far_below = values.clone()
    far_below[member.bool()] -= 500.0  # the set lies 500 below the entries outside it
    empty = member.clone()
    empty[2] = 0.0
    half_member = member.half()
    cases = {
        "rows of a random batch": lambda fn: _compare(fn, values, member, 1, log_space),
        "columns (dim=0)": lambda fn: _compare(fn, values, member, 0, "reduce along the dim you are given."),
        "a set 500 below the other entries": lambda fn: _compare(fn, far_below, member, 1, constant),
        "values of size 1e4": lambda fn: _compare(fn, 1e4 * values, member, 1,
                                                  "exp(1e4) overflows: never exponentiate before the log; "
                                                  "torch.logsumexp subtracts the maximum first.",
                                                  finite_hint=constant),
        "an empty set: -inf with gradient 0": lambda fn: _compare(
            fn, values, empty, 1, "the log-sum-exp of an empty set is -inf (the book's convention)."),
        "float16 values": lambda fn: _compare(fn, values.half(), half_member, 1,
                                              "in float16 a large constant such as 1e12 is inf and 0 * inf = NaN: "
                                              "mask with torch.where instead of arithmetic.", gradient=False),
    }
    return run_cases("masked log-sum-exp", my_masked_logsumexp, cases)
