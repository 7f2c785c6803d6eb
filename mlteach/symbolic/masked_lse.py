"""The log-sum-exp over a masked set and its one-pass closed-form gradient, in SymPy.

For a line of values ``v_1..v_n``, 0/1 memberships ``m_1..m_n`` of a set S and a scale a > 0,

    LSE_S(a v) = log sum_j m_j e^{a v_j}                                  (definition)
               = M + log sum_j m_j e^{a v_j - M}      for any shift M    (stable form)
    d LSE_S / d v_i = a m_i e^{a v_i - M} / sum_j m_j e^{a v_j - M}        (closed form)

With M the largest member value, every exponent is <= 0, so nothing overflows; the weights
``w_j = m_j e^{a v_j - M}`` are computed once by the forward pass and the backward pass is
``a w_i / sum_j w_j`` times the incoming gradient, one multiply per entry. The gradient does
not depend on M (the shift cancels), it is a softmax over the set (non-negative, summing to a),
and an entry outside the set (m_i = 0) gets exactly 0. An empty set (every m_j = 0) has
LSE = -inf: no term is left to differentiate, and the book defines its gradient as 0.

:func:`derive` proves these steps exactly; :func:`check_set_logsumexp` compares the book's
one-pass implementation (:func:`mlteach.losses._label_sets.set_logsumexp`) with the SymPy
gradient and runs :func:`torch.autograd.gradcheck` on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import sympy as sp
import torch

from .functions import assert_identity
from .numeric import assert_close, lambdify_float64

__all__ = ["line_symbols", "masked_lse", "shifted_masked_lse", "closed_form_gradient", "derive",
           "check_set_logsumexp"]


def line_symbols(n: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], sp.Symbol, sp.Symbol]:
    """Values ``v_1..v_n`` (real), memberships ``m_1..m_n`` (non-negative), scale ``a``
    (positive) and shift ``M`` (real)."""
    values = sp.symbols(f"v_1:{n + 1}", real=True)
    members = sp.symbols(f"m_1:{n + 1}", nonnegative=True)
    return values, members, sp.Symbol("a", positive=True), sp.Symbol("M", real=True)


def masked_lse(values: Sequence[sp.Expr], members: Sequence[sp.Expr], scale: sp.Expr = 1) -> sp.Expr:
    """log sum_j m_j e^{a v_j}."""
    return sp.log(sp.Add(*[m * sp.exp(scale * v) for v, m in zip(values, members)]))


def shifted_masked_lse(values, members, scale, shift) -> sp.Expr:
    """M + log sum_j m_j e^{a v_j - M}: the form the code evaluates, M the largest member."""
    return shift + sp.log(sp.Add(*[m * sp.exp(scale * v - shift) for v, m in zip(values, members)]))


def closed_form_gradient(values, members, scale, shift, index: int) -> sp.Expr:
    """a w_i / sum_j w_j with the forward pass's weights w_j = m_j e^{a v_j - M}."""
    weights = [m * sp.exp(scale * v - shift) for v, m in zip(values, members)]
    return scale * weights[index] / sp.Add(*weights)


def derive(n: int = 3) -> dict[str, sp.Expr]:
    """Prove, for a line of ``n`` entries: the shifted form equals the definition; the SymPy
    derivative of the definition equals the closed form with any shift; the closed-form
    gradients sum to ``a`` over the set; an entry outside the set gets 0. Returns the
    expressions (``"lse"``, ``"gradient"`` of entry 1, ``"closed form"``); raises
    ``AssertionError`` naming the step that fails."""
    values, members, scale, shift = line_symbols(n)
    lse = masked_lse(values, members, scale)
    assert_identity(shifted_masked_lse(values, members, scale, shift), lse, "the shift M leaves LSE unchanged",
                    transform=sp.exp)
    gradient = sp.diff(lse, values[0])
    closed = closed_form_gradient(values, members, scale, shift, 0)
    assert_identity(gradient, closed, "d LSE / d v_1 is the closed form a w_1 / sum_j w_j")
    total = sp.Add(*[closed_form_gradient(values, members, scale, shift, i) for i in range(n)])
    assert_identity(total, scale, "the gradients sum to a over the set")
    assert_identity(gradient.subs(members[0], 0), 0, "an entry outside the set gets no gradient")
    return {"lse": lse, "gradient": gradient, "closed form": closed}


def check_set_logsumexp(set_lse: Callable | None = None, n: int = 6, lines: int = 4, seed: int = 0) -> None:
    """Compare a one-pass LSE over the negatives of each row with the SymPy closed form, and
    run ``torch.autograd.gradcheck`` on it (float64, an empty row included).

    ``set_lse(logits, targets) -> [B]``: LSE over the entries whose target is 0, per row; the
    default is the book's :func:`mlteach.losses._label_sets.set_logsumexp`. Raises
    ``AssertionError`` on a mismatch."""
    if set_lse is None:
        from mlteach.losses._label_sets import SetLSE, set_logsumexp

        def set_lse(logits, targets):
            return set_logsumexp(logits, targets, (SetLSE("negative", 1.0, 1),))[0]

    generator = torch.Generator().manual_seed(seed)
    logits = (30 * torch.randn(lines, n, generator=generator, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(-1, 2, (lines, n), generator=generator).double()
    targets[0] = 1  # a line without negatives: an empty set
    targets[1, 0] = 0
    values, members, scale, shift = line_symbols(n)
    symbols = (*values, *members)
    value_fn = lambdify_float64(masked_lse(values, members, scale).subs(scale, 1), symbols)
    gradient_fns = [lambdify_float64(closed_form_gradient(values, members, 1, 0, i), symbols)
                    for i in range(n)]
    result = set_lse(logits, targets)
    result[1:].sum().backward()
    for row in range(1, lines):
        numbers = (*logits[row].detach().numpy(), *(targets[row] == 0).double().numpy())
        shift = float(logits.detach()[row][targets[row] == 0].max())  # the code's shift: the largest member
        numbers_shifted = (*(logits[row].detach().numpy() - shift), *numbers[n:])
        assert_close(result[row], value_fn(*numbers_shifted) + shift, f"LSE of row {row}")
        expected = np.array([fn(*numbers_shifted) for fn in gradient_fns])
        assert_close(logits.grad[row], expected, f"closed-form gradient of row {row}")
    assert float(result.detach()[0]) == -np.inf and bool((logits.grad[0] == 0).all()), "an empty set: -inf, gradient 0"
    assert torch.autograd.gradcheck(lambda x: set_lse(x, targets)[1:], (logits.detach().requires_grad_(),)), \
        "gradcheck failed"
