"""Log-sum-exp over label sets, the one expensive step of the two-way, LSEP, ZLPR, DR and
multi-label softmax losses.

Each of these losses reduces a line of the ``[B, C]`` logit matrix -- a row (one sample, over
classes) or a column (one class, over the batch) -- to log-sum-exps over the line's positive,
negative or known entries. Everything after that works on ``[B]`` or ``[C]`` vectors and is
cheap, so plain autograd handles it. This module computes them, divided by their scale a (a
"soft maximum" in the units of the logits), with a closed-form gradient in one
:class:`torch.autograd.Function`:

    forward:  LSE_S(a v) / a = m + (1/a) log sum_{j in S} e^{a (v_j - m)},   m = max_{j in S} v_j,
    backward: d / d x_j = sign * e^{a (v_j - m)} / sum_{k in S} e^{a (v_k - m)},

with ``v = -x`` on positives (``sign = -1``) and ``v = x`` on negatives or known entries.
Subtracting the maximum before scaling keeps every exponent at most 0 and exact (``a v - a m``
would round to a large error once ``a |v|`` is large, e.g. a temperature of 1e-10), and dividing
by ``a`` keeps the result in the range of the logits, so that sums such as
``LSE_N + LSE_P`` never meet ``inf - inf``. The exponentials computed by the forward pass are
kept, so the backward pass is one multiply-add per set. An empty set gives ``-inf`` and
receives no gradient. When a second derivative is asked for (``create_graph=True``), the
backward pass is computed again from plain differentiable operations
(:func:`_differentiable_grad`), so double backward is exact.

Two layouts, chosen per set from its size:

- a *sparse* set (at most :data:`SPARSE_FRACTION` of the entries -- positives usually are) is
  gathered into a vector of its members; maxima and sums per line are scatter-reductions over
  that vector, so its cost grows with the number of members, not with ``B * C``;
- a *dense* set is kept as a ``[B, C]`` tensor with ``-inf`` off the set. Masks are built with
  float arithmetic (comparisons into boolean tensors and ``torch.where`` were several times
  slower on the CPU measured): ``(m - 1) / m`` is ``0`` on members (``m = 1``) and ``-inf``
  elsewhere (``m = 0``). Exponents are clamped below at :func:`_exp_floor` before
  ``exp`` and the result is multiplied by the 0/1 membership, so members keep their weight up
  to ``e^floor`` (below float resolution) and non-members get an exact zero: on CPU, ``exp``
  of ``-inf`` or of arguments whose result is subnormal runs 10 to 100 times slower than
  ``exp`` of ordinary numbers. A scale wanted along both axes (the two-way loss) shares one
  ``exp`` pass: the column sums come from the row-shifted weights by a matrix-vector product
  (:class:`_DenseBothAxes`).

NaN logits on the entries of a set give NaN results (a dense set also picks up NaN from entries
outside it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

SIGNS = {"positive": -1.0, "negative": 1.0, "known": 1.0}
SPARSE_FRACTION = 1 / 16


class SetLSE(NamedTuple):
    """One log-sum-exp over a label set, along one axis of the ``[B, C]`` logits.

    ``labels``: ``"positive"`` (values ``-x`` where the target is 1), ``"negative"`` (values
    ``x`` where it is 0) or ``"known"`` (values ``x`` where it is 0 or 1). ``scale`` (a > 0):
    the result is ``LSE(a v) / a``. ``dim``: ``1`` gives one result per sample (``[B]``), ``0`` one per
    class (``[C]``).
    """

    labels: str
    scale: float
    dim: int


def _exp_floor(dtype: torch.dtype) -> float:
    """Lowest exponent kept: ``e^floor`` is a normal number well above the subnormal range."""
    return math.log(torch.finfo(dtype).tiny) + 8.0


def membership(targets: torch.Tensor, labels: str) -> torch.Tensor:
    """0/1 float indicator of a label set, computed from targets in {1, 0, -1} arithmetically."""
    if labels == "positive":
        return targets.clamp(min=0)
    if labels == "negative":
        one = torch.ones((), dtype=targets.dtype, device=targets.device)
        return torch.addcmul(one, targets, targets, value=-1)
    return targets.add(1).clamp_(max=1)


def _without_empty(line_max: torch.Tensor) -> torch.Tensor:
    return torch.where(line_max == -math.inf, 0.0, line_max)  # an empty line gets the shift 0


def _line_factor(line_grad: torch.Tensor, coefficient: float, total: torch.Tensor) -> torch.Tensor:
    """``coefficient * dL/dresult / sum``, 0 on empty lines (an empty set receives no gradient)."""
    return torch.where(total == 0, 0.0, line_grad * coefficient / total)


class _DenseAxis:
    """One log-sum-exp along one axis of a dense set: the weights ``[B, C]`` and line sums."""

    def __init__(self, weights, total, dim, coefficient):
        self.weights, self.total, self.dim, self.coefficient = weights, total, dim, coefficient

    def accumulate(self, grad, line_grads, shape):
        (line_grad,) = line_grads
        if line_grad is None:
            return grad
        factor = _line_factor(line_grad.unsqueeze(self.dim), self.coefficient, self.total)
        return self.weights * factor if grad is None else grad.addcmul_(self.weights, factor)


class _DenseBothAxes:
    """Row and column log-sum-exps of a dense set at one scale, from one ``exp`` pass.

    The weights ``w = e^{a (v - m_b)}`` are shifted by each row's maximum ``m_b``. With the
    global maximum ``M`` and ``u_b = e^{a (m_b - M)}``, the column sums are ``sum_b w_bc u_b`` (in units of
    ``e^M``): one matrix-vector product instead of a second pass of max, exp and sum. Terms lost
    to the exponent floor add at most ``B e^floor`` to a sum, so a column whose sum is below
    ``e^{floor / 2}`` (a column far below the set's maximum, when logits span more than about
    ``-floor / (2 a)``) is recomputed with its own shift.
    """

    def __init__(self, weights, row_total, row_scale, column_total, recomputed, coefficient):
        self.weights, self.row_total, self.row_scale = weights, row_total, row_scale
        self.column_total, self.recomputed, self.coefficient = column_total, recomputed, coefficient

    def accumulate(self, grad, line_grads, shape):
        row_grad, column_grad = line_grads
        if row_grad is None and column_grad is None:
            return grad
        factor = (_line_factor(row_grad.unsqueeze(1), self.coefficient, self.row_total) if row_grad is not None
                  else self.row_total.new_zeros(self.row_total.shape))
        if column_grad is not None:
            column_factor = _line_factor(column_grad, self.coefficient, self.column_total)
            factor = torch.addr(factor, self.row_scale.squeeze(1), column_factor)
        grad = self.weights * factor if grad is None else grad.addcmul_(self.weights, factor)
        if column_grad is not None and self.recomputed is not None:
            columns, state = self.recomputed
            grad.index_add_(1, columns, state.weights * _line_factor(column_grad[columns].unsqueeze(0),
                                                                     self.coefficient, state.total))
        return grad


class _SparseAxis:
    """One log-sum-exp along one axis of a sparse set: one weight per member."""

    def __init__(self, weights, total, flat, line, coefficient):
        self.weights, self.total, self.flat, self.line, self.coefficient = weights, total, flat, line, coefficient

    def accumulate(self, grad, line_grads, shape):
        (line_grad,) = line_grads
        if line_grad is None:
            return grad
        if grad is None:
            grad = self.weights.new_zeros(shape)
        factor = _line_factor(line_grad, self.coefficient, self.total)
        return grad.view(-1).index_add_(0, self.flat, self.weights * factor[self.line]).view(shape)


def signed_values(logits, member, labels):
    """Signed logits on the set (``-x`` for positives, ``x`` otherwise), ``-inf`` elsewhere."""
    values = member.sub(1).div_(member)  # 0 on members, -inf elsewhere
    return values.sub_(logits) if labels == "positive" else values.add_(logits)


def _dense_axis(values, member, scale, dim, floor, coefficient, out=None, line_max=None):
    """``(LSE per line, _DenseAxis)`` along ``dim``; ``out`` may be ``values`` itself."""
    line_max = values.amax(dim, keepdim=True) if line_max is None else line_max
    shift = _without_empty(line_max)
    weights = torch.sub(values, shift, out=torch.empty_like(values) if out is None else out)
    weights.mul_(scale).clamp_(min=floor).exp_().mul_(member)
    total = weights.sum(dim, keepdim=True)
    return (total.log().div_(scale) + shift).squeeze(dim), _DenseAxis(weights, total, dim, coefficient)


def _dense_both_axes(logits, values, member, labels, scale, floor, coefficient, out=None):
    """``((row LSE, column LSE), _DenseBothAxes)``; ``out`` may be ``values`` itself."""
    row_max = values.amax(1, keepdim=True)
    row_lse, rows = _dense_axis(values, member, scale, 1, floor, coefficient, out=out, line_max=row_max)
    top = row_max.max()
    top = torch.where(top == -math.inf, 0.0, top)
    row_scale = torch.exp((row_max - top) * scale)
    column_total = (row_scale.T @ rows.weights).squeeze(0)
    column_lse = column_total.log() / scale + top
    lost = torch.nonzero(column_total < math.exp(floor / 2)).squeeze(1)
    recomputed = None
    if lost.numel():
        part = member[:, lost]
        part_values = signed_values(logits[:, lost], part, labels)
        lse, state = _dense_axis(part_values, part, scale, 0, floor, coefficient, out=part_values)
        column_lse[lost], column_total[lost] = lse, 0.0
        recomputed = (lost, state)
    state = _DenseBothAxes(rows.weights, rows.total, row_scale, column_total, recomputed, coefficient)
    return (row_lse, column_lse), state


def _dense_terms(logits, member, labels, terms, floor):
    """Dense layout for the terms of one set: ``[(term indices, results, state), ...]``. A scale
    wanted along both axes shares one ``exp`` pass (:class:`_DenseBothAxes`)."""
    values = signed_values(logits, member, labels)
    row_terms = {term.scale: i for i, term in enumerate(terms) if term.dim == 1}
    pairs = [(row_terms[term.scale], j) for j, term in enumerate(terms) if term.dim == 0 and term.scale in row_terms]
    paired = {i for pair in pairs for i in pair}
    jobs = pairs + [(i,) for i in range(len(terms)) if i not in paired]
    pieces = []
    for k, owners in enumerate(jobs):
        term = terms[owners[0]]
        coefficient = SIGNS[labels]
        out = values if k == len(jobs) - 1 else None  # the last job reuses the values' memory
        if len(owners) == 2:
            results, state = _dense_both_axes(logits, values, member, labels, term.scale, floor, coefficient, out)
        else:
            lse, state = _dense_axis(values, member, term.scale, term.dim, floor, coefficient, out)
            results = (lse,)
        pieces.append((owners, results, state))
    return pieces


def _sparse_terms(logits, member, labels, terms, floor):
    """Sparse layout: gather the members, reduce per line with scatter operations."""
    classes = logits.shape[1]
    flat = member.reshape(-1).bool().nonzero().squeeze(1)  # nonzero runs faster on booleans
    values = logits.reshape(-1)[flat]
    if labels == "positive":
        values = values.neg()
    lines = {1: flat.div(classes, rounding_mode="floor"), 0: flat.remainder(classes)}
    maxima = {}
    pieces = []
    for i, term in enumerate(terms):
        line, count = lines[term.dim], logits.shape[1 - term.dim]
        if term.dim not in maxima:
            line_max = values.new_full((count,), -math.inf).scatter_reduce_(0, line, values, "amax")
            maxima[term.dim] = _without_empty(line_max)
        shift = maxima[term.dim]
        weights = (values - shift[line]).mul_(term.scale).clamp_(min=floor).exp_()
        total = values.new_zeros(count).index_add_(0, line, weights)
        state = _SparseAxis(weights, total, flat, line, SIGNS[term.labels])
        pieces.append(((i,), (total.log() / term.scale + shift,), state))
    return pieces


class _SetLogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, terms):
        ctx.set_materialize_grads(False)
        targets = targets.to(logits.dtype)
        floor = _exp_floor(logits.dtype)
        results, ctx.pieces = [None] * len(terms), []
        for labels in dict.fromkeys(term.labels for term in terms):
            indices = [i for i, term in enumerate(terms) if term.labels == labels]
            member = membership(targets, labels)
            sparse = float(member.sum()) <= SPARSE_FRACTION * member.numel()
            layout = _sparse_terms if sparse else _dense_terms
            for local, values, state in layout(logits, member, labels, [terms[i] for i in indices], floor):
                owners = tuple(indices[j] for j in local)
                for owner, value in zip(owners, values):
                    results[owner] = value
                ctx.pieces.append((owners, state))
        ctx.shape, ctx.terms = logits.shape, terms
        ctx.save_for_backward(logits, targets)
        return tuple(results)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():  # create_graph=True: the gradient must be differentiable
            logits, targets = ctx.saved_tensors
            return _differentiable_grad(logits, targets, ctx.terms, grads), None, None
        grad = None
        # dense pieces first: they allocate the gradient, sparse pieces add into it
        for owners, state in sorted(ctx.pieces, key=lambda piece: isinstance(piece[1], _SparseAxis)):
            grad = state.accumulate(grad, [grads[i] for i in owners], ctx.shape)
        return grad, None, None


def _differentiable_grad(logits, targets, terms, grads):
    """The backward pass of :class:`_SetLogSumExp` in plain autograd operations: per term,
    ``sign * softmax_S(a v) * dL/dresult`` along the term's axis (0 off the set and on empty
    lines). Used when a second derivative is asked for."""
    grad = torch.zeros_like(logits)
    for term, line_grad in zip(terms, grads):
        if line_grad is None:
            continue
        member = membership(targets.detach().to(logits.dtype), term.labels) > 0
        values = torch.where(member, logits * SIGNS[term.labels], -math.inf)
        shift = _without_empty(values.detach().amax(term.dim, keepdim=True))  # softmax ignores it
        weights = torch.exp((values - shift) * term.scale)
        total = weights.sum(term.dim, keepdim=True)
        share = weights / torch.where(total == 0, 1.0, total)
        grad = grad + SIGNS[term.labels] * share * line_grad.unsqueeze(term.dim)
    return grad


def set_logsumexp(logits: torch.Tensor, targets: torch.Tensor, terms: tuple[SetLSE, ...]) -> tuple[torch.Tensor, ...]:
    """Soft maxima ``LSE_{j in S}(a v_j) / a`` along rows or columns, one per ``SetLSE``
    (``a`` its ``scale``): between ``max_S v`` and ``max_S v + log|S| / a``.

    ``logits`` must already be in the compute dtype; ``targets`` hold 1, 0, -1. A line whose
    set is empty gives ``-inf``. The gradient is closed-form (see the module docstring) and
    differentiable again.
    """
    return _SetLogSumExp.apply(logits, targets, tuple(terms))


def logsumexp_lines(*parts: torch.Tensor) -> torch.Tensor:
    """Elementwise log-sum-exp of equally shaped vectors; ``-inf`` where every part is ``-inf``,
    with zero (not NaN) gradient there. A part that overflowed to ``+inf`` is read as the
    largest finite number (the result is then ``inf`` with a finite gradient). NaN propagates."""
    stacked = torch.stack(parts)
    stacked = stacked.clamp(max=torch.finfo(stacked.dtype).max)
    some = stacked.amax(0) != -math.inf
    return torch.where(some, torch.logsumexp(torch.where(some, stacked, 0.0), 0), -math.inf)
