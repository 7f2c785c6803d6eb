"""Log-sum-exp over label sets, the one expensive step of the two-way, LSEP, ZLPR, DR, circle and
multi-label softmax losses.

Each of these losses reduces a line of the ``[B, C]`` logit matrix -- a row (one sample, over
classes) or a column (one class, over the batch) -- to log-sum-exps over the line's positive,
negative or known entries, then combines those ``[B]`` or ``[C]`` vectors with a little vector
arithmetic (a softplus, a mean). This module computes the log-sum-exps, divided by their scale a
(a "soft maximum" in the units of the logits), with a closed-form gradient:

    forward:  LSE_S(a v) / a = m + (1/a) log sum_{j in S} e^{a (v_j - m)},   m = max_{j in S} v_j,
    backward: d / d x_j = sign * e^{a (v_j - m)} / sum_{k in S} e^{a (v_k - m)},

with ``v = -x`` on positives (``sign = -1``) and ``v = x`` on negatives or known entries.
Subtracting the maximum before scaling keeps every exponent at most 0 and exact (``a v - a m``
would round to a large error once ``a |v|`` is large, e.g. a temperature of 1e-10), and dividing
by ``a`` keeps the result in the range of the logits, so that sums such as
``LSE_N + LSE_P`` never meet ``inf - inf``. The exponentials computed by the forward pass are
kept, so the backward pass is one multiply-add per set. An empty set gives ``-inf`` and
receives no gradient. Exponentials are computed as ``2^(a log2(e) (v - m))``: on CPU, torch's
``exp`` runs 20 to 50 times slower on arguments whose result underflows (the entries off the
set sit at ``-inf``), ``exp2`` does not; and a weight below ``2^-118`` of its line's largest
is set to 0, so that no weight is a subnormal number (arithmetic on those is as slow).

:func:`line_loss` runs a whole loss in one :class:`torch.autograd.Function`: the loss's
:class:`LineHead` does the vector arithmetic after the log-sum-exps and gives its derivative in
closed form, so a training step is one forward and one backward pass, without an autograd node
per vector operation. When a second derivative is asked for (``create_graph=True``), the
backward pass differentiates a plain-autograd evaluation of the same loss
(:func:`reference_soft_maxima` and the head's ``reference``), so double backward is exact.

Two layouts, chosen from the size of the input:

- *stacked* (at most :data:`STACKED_ENTRIES` entries, where the cost is the number of tensor
  operations rather than the arithmetic): the signed values of every set the loss needs sit in
  one ``[S, B, C]`` tensor, so each step (line maximum, shift, exponential, line sum) is one
  operation for all sets, and column terms of the same sets and scales as the row terms take
  their sums from the row weights (:func:`_columns_from_rows`);
- *set by set* (larger inputs): a *sparse* set (at most :data:`SPARSE_FRACTION` of the entries
  -- positives usually are) is gathered into a vector of its members; maxima and sums per line
  are scatter-reductions over that vector, so its cost grows with the number of members, not
  with ``B * C``. A *dense* set is kept as a ``[B, C]`` tensor with ``-inf`` off the set, and a
  scale wanted along both axes (the two-way loss) shares one exponential pass: the column sums
  come from the row-shifted weights by a matrix-vector product (:class:`_DenseBothAxes`).

Masks are built with float arithmetic (comparisons into boolean tensors and ``torch.where``
were several times slower on the CPU measured): with ``q = t^2``, the negatives are
``x - q / (1 - q)``, the positives ``(t - 1) / (t + q) - x`` and the known entries
``x - (q - t) / (t + 1)``, each ``-inf`` off its set (a nonzero number divided by 0) and exact
on it. NaN logits on the entries of a set give NaN results (a dense set also picks up NaN from
entries outside it).
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

SIGNS = {"positive": -1.0, "negative": 1.0, "known": 1.0}
#: base-2 exponents at or below this give the weight 0 (2^-118 is well above the subnormal numbers)
EXP2_FLOOR = -118.0
#: a column sum made from row-shifted weights (in units of the set's largest weight) below this
#: may have lost terms to the floor, and is recomputed with its own shift
LOST_COLUMN = 2.0 ** (EXP2_FLOOR / 2)
SPARSE_FRACTION = 1 / 16
#: inputs with at most this many entries use the stacked layout
STACKED_ENTRIES = 1 << 16
LOG2_E = 1 / math.log(2)
LN_2 = math.log(2)


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


class LineHead(NamedTuple):
    """The part of a loss after its soft maxima, for :func:`line_loss`.

    ``forward(soft_maxima, logits) -> (outputs, backward)``: the loss's output tensors (a tuple)
    from the soft maxima (one vector per :class:`SetLSE`, in order), without autograd, and
    ``backward(grad_outputs) -> (line_grads, direct)``: the gradient with respect to each soft
    maximum (a vector or None) and an optional ``[B, C]`` gradient of terms that use the logits
    directly. ``reference(soft_maxima, logits) -> outputs``: the same outputs in differentiable
    operations (used for second derivatives).
    """

    forward: Callable
    reference: Callable


def membership(targets: torch.Tensor, labels: str) -> torch.Tensor:
    """0/1 float indicator of a label set, computed from targets in {1, 0, -1} arithmetically."""
    if labels == "positive":
        return targets.clamp(min=0)
    if labels == "negative":
        one = torch.ones((), dtype=targets.dtype, device=targets.device)
        return torch.addcmul(one, targets, targets, value=-1)
    return targets.add(1).clamp_(max=1)


def signed_values(logits, member, labels):
    """Signed logits on the set (``-x`` for positives, ``x`` otherwise), ``-inf`` elsewhere."""
    values = member.sub(1).div_(member)  # 0 on members, -inf elsewhere
    return values.sub_(logits) if labels == "positive" else values.add_(logits)


def _signed_values_into(out, logits, targets, square, labels):
    """:func:`signed_values` of a label set written into ``out``, from ``square = targets^2``
    (see the module docstring)."""
    if labels == "negative":
        return torch.addcdiv(logits, square, torch.rsub(square, 1), value=-1, out=out)
    if labels == "positive":
        return torch.div(targets - 1, targets + square, out=out).sub_(logits)
    return torch.addcdiv(logits, square - targets, targets + 1, value=-1, out=out)


def _without_empty(line_max: torch.Tensor) -> torch.Tensor:
    return torch.where(line_max == -math.inf, 0.0, line_max)  # an empty line gets the shift 0


def _line_factor(line_grad: torch.Tensor, coefficient: float, total: torch.Tensor) -> torch.Tensor:
    """``coefficient * dL/dresult / sum``, 0 on empty lines (an empty set receives no gradient)."""
    return torch.where(total == 0, 0.0, line_grad * coefficient / total)


def _exp2_(exponents: torch.Tensor) -> torch.Tensor:
    """``2^exponents`` in place, with exponents at or below :data:`EXP2_FLOOR` giving exactly 0:
    no weight is a subnormal number (on CPU every operation on subnormal numbers, here and in
    the gradients made from them, runs tens of times slower). A weight below ``2^-118`` of its
    line's largest is below float32 resolution in the line's sum."""
    return F.threshold_(exponents, EXP2_FLOOR, -math.inf).exp2_()


def _exp_(shifted: torch.Tensor, scale: float) -> torch.Tensor:
    """``e^{scale * shifted}`` in place (:func:`_exp2_` of ``scale log2(e) shifted``)."""
    return _exp2_(shifted.mul_(scale * LOG2_E))


# ---------------------------------------------------------------- stacked layout (small inputs)


@functools.lru_cache(maxsize=64)
def _per_slice(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Constants, one per stacked set, as a cached ``[S, 1, 1]`` tensor (read only)."""
    return torch.tensor(values, dtype=dtype, device=device).view(-1, 1, 1)


def _slice_constants(scales: list[float], like: torch.Tensor):
    """``(a log2(e), ln(2) / a)`` per stacked set: Python numbers when the scales agree."""
    if len(set(scales)) == 1:
        return scales[0] * LOG2_E, LN_2 / scales[0]
    return (_per_slice(tuple(a * LOG2_E for a in scales), like.dtype, like.device),
            _per_slice(tuple(LN_2 / a for a in scales), like.dtype, like.device))


def _add_scaled(base: torch.Tensor, values: torch.Tensor, factor) -> torch.Tensor:
    """``base + values * factor`` for a number or a per-slice tensor ``factor``."""
    if isinstance(factor, torch.Tensor):
        return torch.addcmul(base, values, factor)
    return torch.add(base, values, alpha=factor)


class _StackedAxis:
    """Log-sum-exps of S stacked sets along one axis: ``weights / total`` is the gradient of each
    soft maximum (``total`` clamped at 1: a non-empty line sums to at least 1, an empty one has
    zero weights). ``columns``, when set, holds the column sums made from these row weights
    (:func:`_columns_from_rows`): ``(term indices, row scales u [S, B, 1], column sums [S, 1, C])``."""

    def __init__(self, owners, signs, weights, total, shift, axis):
        self.owners, self.signs, self.weights, self.total = owners, signs, weights, total
        self.shift, self.axis, self.columns = shift, axis, None

    def _signed(self, line_grads, owners):
        """The line gradients of ``owners`` times their signs, stacked ``[S, lines]``; None if all are None."""
        grads = [line_grads[i] for i in owners]
        if all(g is None for g in grads):
            return None
        like = next(g for g in grads if g is not None)
        return torch.stack([torch.zeros_like(like) if g is None else g if sign > 0 else -g
                            for g, sign in zip(grads, self.signs)])

    def accumulate(self, grad, line_grads):
        lines = self._signed(line_grads, self.owners)
        factor = None if lines is None else lines.unsqueeze(self.axis) / self.total
        if self.columns is not None:
            owners, row_scale, column_total = self.columns
            columns = self._signed(line_grads, owners)
            if columns is not None:
                column_factor = columns.unsqueeze(1) / column_total
                factor = (torch.bmm(row_scale, column_factor) if factor is None
                          else torch.baddbmm(factor, row_scale, column_factor))
        if factor is None:
            return grad
        contribution = (self.weights * factor).sum(0)
        return contribution if grad is None else grad.add_(contribution)


class _StackedState:
    def __init__(self, axes):
        self.axes = axes

    def gradient(self, line_grads):
        grad = None
        for axis in self.axes:
            grad = axis.accumulate(grad, line_grads)
        return grad


def _stacked_axis(values, terms, owners, dim, results):
    """The soft maxima of ``owners`` (terms along ``dim``, one slice of ``values`` each) into
    ``results``; their :class:`_StackedAxis`."""
    axis = dim + 1
    shift = values.amax(axis, keepdim=True).clamp_(min=-torch.finfo(values.dtype).max)  # empty line: finite
    scale, back = _slice_constants([terms[i].scale for i in owners], values)
    weights = _exp2_(torch.sub(values, shift).mul_(scale))
    total = weights.sum(axis, keepdim=True)  # >= 1 on a non-empty line (its maximum gives 1)
    soft = _add_scaled(shift, total.log2(), back).squeeze(axis)
    for j, owner in enumerate(owners):
        results[owner] = soft[j]
    signs = [SIGNS[terms[i].labels] for i in owners]
    return _StackedAxis(owners, signs, weights, total.clamp_(min=1), shift, axis)


def _columns_from_rows(rows: _StackedAxis, owners, terms, targets, results) -> bool:
    """Column soft maxima of the row sets (same labels and scales) from the row weights: with the
    largest row shift ``M`` and ``u_b = e^{a (m_b - M)}``, the column sums are ``sum_b w_bc u_b``
    (in units of ``e^{a M}``), one batched matrix-vector product instead of a second pass of
    maximum, exponential and sum. False (nothing done) when a non-empty column sum falls below
    :data:`LOST_COLUMN`: its terms may have underflowed, and the columns need their own shifts."""
    scale, back = _slice_constants([terms[i].scale for i in owners], rows.weights)
    top = rows.shift.amax(1, keepdim=True)
    row_scale = _exp2_(torch.sub(rows.shift, top).mul_(scale))
    total = row_scale.transpose(1, 2) @ rows.weights  # [S, 1, C]
    if float(total.amin()) < LOST_COLUMN:  # an empty column, or one far below the set's maximum
        members = torch.stack([membership(targets, terms[i].labels).sum(0) for i in owners])
        if bool(((total.squeeze(1) < LOST_COLUMN) & (members > 0)).any()):
            return False
    soft = _add_scaled(top, total.log2(), back).squeeze(1)
    for j, owner in enumerate(owners):
        results[owner] = soft[j]
    rows.columns = (owners, row_scale, total.clamp_(min=LOST_COLUMN))  # empty columns: zero weights
    return True


def _stacked_values(logits, targets, square, labels):
    """``[S, B, C]`` signed values, one slice per entry of ``labels`` (a repeated set is copied)."""
    values = logits.new_empty((len(labels), *logits.shape))
    for j, label in enumerate(labels):
        if label in labels[:j]:
            values[j].copy_(values[labels.index(label)])
        else:
            _signed_values_into(values[j], logits, targets, square, label)
    return values


def _stacked_lses(logits, targets, terms):
    """Soft maxima of every term from ``[S, B, C]`` tensors of signed values, one slice per term
    of an axis; per axis, each step is one operation over the sets. Row and column terms of the
    same sets and scales share one exponential pass (:func:`_columns_from_rows`)."""
    square = targets * targets
    rows = [i for i, term in enumerate(terms) if term.dim == 1]
    columns = [i for i, term in enumerate(terms) if term.dim == 0]
    results, axes, built = [None] * len(terms), [], {}
    paired = bool(rows) and [terms[i][:2] for i in rows] == [terms[i][:2] for i in columns]
    for dim, owners in ((1, rows), (0, columns)):
        if not owners or (dim == 0 and paired and _columns_from_rows(axes[0], owners, terms, targets, results)):
            continue
        labels = [terms[i].labels for i in owners]
        values = built.setdefault(tuple(labels), None)
        if values is None:
            values = built[tuple(labels)] = _stacked_values(logits, targets, square, labels)
        axes.append(_stacked_axis(values, terms, owners, dim, results))
    return results, _StackedState(axes)


# ---------------------------------------------------------------- set-by-set layout (large inputs)
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
    """Row and column log-sum-exps of a dense set at one scale, from one exponential pass.

    The weights ``w = e^{a (v - m_b)}`` are shifted by each row's maximum ``m_b``. With the
    global maximum ``M`` and ``u_b = e^{a (m_b - M)}``, the column sums are ``sum_b w_bc u_b`` (in units of
    ``e^M``): one matrix-vector product instead of a second pass of max, exp and sum. A column
    whose sum is below :data:`LOST_COLUMN` (a column far below the set's maximum, when logits
    span more than about ``40 / a``) may have lost terms to underflow and is recomputed with its
    own shift.
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


def _dense_axis(values, scale, dim, coefficient, out=None, line_max=None):
    """``(LSE per line, _DenseAxis)`` along ``dim``; ``out`` may be ``values`` itself, ``line_max``
    the values' maximum per line (computed when not given)."""
    line_max = values.amax(dim, keepdim=True) if line_max is None else line_max
    shift = _without_empty(line_max)
    weights = _exp_(torch.sub(values, shift, out=torch.empty_like(values) if out is None else out), scale)
    total = weights.sum(dim, keepdim=True)
    return (total.log().div_(scale) + shift).squeeze(dim), _DenseAxis(weights, total, dim, coefficient)


def _dense_both_axes(logits, values, member, labels, scale, coefficient, out, row_max):
    """``((row LSE, column LSE), _DenseBothAxes)``; ``out`` may be ``values`` itself, ``row_max``
    is the values' maximum per row."""
    row_lse, rows = _dense_axis(values, scale, 1, coefficient, out=out, line_max=row_max)
    top = row_max.max()
    top = torch.where(top == -math.inf, 0.0, top)
    row_scale = _exp_(row_max - top, scale)
    column_total = (row_scale.T @ rows.weights).squeeze(0)
    column_lse = column_total.log() / scale + top
    lost = torch.nonzero(column_total < LOST_COLUMN).squeeze(1)
    recomputed = None
    if lost.numel():
        part_values = signed_values(logits[:, lost], member[:, lost], labels)
        lse, state = _dense_axis(part_values, scale, 0, coefficient, out=part_values)
        column_lse[lost], column_total[lost] = lse, 0.0
        recomputed = (lost, state)
    state = _DenseBothAxes(rows.weights, rows.total, row_scale, column_total, recomputed, coefficient)
    return (row_lse, column_lse), state


def _dense_terms(logits, member, labels, terms):
    """Dense layout for the terms of one set: ``[(term indices, results, state), ...]``. A scale
    wanted along both axes shares one exponential pass (:class:`_DenseBothAxes`)."""
    values = signed_values(logits, member, labels)
    row_terms = {term.scale: i for i, term in enumerate(terms) if term.dim == 1}
    pairs = [(row_terms[term.scale], j) for j, term in enumerate(terms) if term.dim == 0 and term.scale in row_terms]
    paired = {i for pair in pairs for i in pair}
    jobs = pairs + [(i,) for i in range(len(terms)) if i not in paired]
    pieces, maxima = [], {}  # line maxima per axis, shared by the terms of other scales
    for k, owners in enumerate(jobs):
        term = terms[owners[0]]
        coefficient = SIGNS[labels]
        out = values if k == len(jobs) - 1 else None  # the last job reuses the values' memory
        dim = 1 if len(owners) == 2 else term.dim
        if dim not in maxima:
            maxima[dim] = values.amax(dim, keepdim=True)
        if len(owners) == 2:
            results, state = _dense_both_axes(logits, values, member, labels, term.scale, coefficient, out,
                                              row_max=maxima[1])
        else:
            lse, state = _dense_axis(values, term.scale, term.dim, coefficient, out, line_max=maxima[dim])
            results = (lse,)
        pieces.append((owners, results, state))
    return pieces


def flat_members(member: torch.Tensor) -> torch.Tensor:
    """Flat indices of a set's members. On CPU, numpy's ``flatnonzero`` of a boolean array runs
    about 3 times faster than ``torch.nonzero``."""
    if member.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(member.reshape(-1).numpy() > 0))
    return member.reshape(-1).bool().nonzero().squeeze(1)  # nonzero runs faster on booleans


def _sparse_terms(logits, member, labels, terms):
    """Sparse layout: gather the members, reduce per line with scatter operations."""
    classes = logits.shape[1]
    flat = flat_members(member)
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
        weights = _exp_(values - shift[line], term.scale)
        total = values.new_zeros(count).index_add_(0, line, weights)
        state = _SparseAxis(weights, total, flat, line, SIGNS[term.labels])
        pieces.append(((i,), (total.log() / term.scale + shift,), state))
    return pieces


class _PerSetState:
    """The pieces of the set-by-set layout: ``(term indices, state)`` pairs."""

    def __init__(self, pieces, shape):
        # dense pieces first: they allocate the gradient, sparse pieces add into it
        self.pieces = sorted(pieces, key=lambda piece: isinstance(piece[1], _SparseAxis))
        self.shape = shape

    def gradient(self, line_grads):
        grad = None
        for owners, state in self.pieces:
            grad = state.accumulate(grad, [line_grads[i] for i in owners], self.shape)
        return grad


def _per_set_lses(logits, targets, terms):
    """Soft maxima of every term, set by set, each set dense or sparse by its size."""
    results, pieces = [None] * len(terms), []
    for labels in dict.fromkeys(term.labels for term in terms):
        indices = [i for i, term in enumerate(terms) if term.labels == labels]
        member = membership(targets, labels)
        sparse = float(member.sum()) <= SPARSE_FRACTION * member.numel()
        layout = _sparse_terms if sparse else _dense_terms
        for local, values, state in layout(logits, member, labels, [terms[i] for i in indices]):
            owners = tuple(indices[j] for j in local)
            for owner, value in zip(owners, values):
                results[owner] = value
            pieces.append((owners, state))
    return results, _PerSetState(pieces, logits.shape)


# ---------------------------------------------------------------- the autograd function
def reference_soft_maxima(logits: torch.Tensor, targets: torch.Tensor, terms) -> list[torch.Tensor]:
    """The soft maxima of :func:`set_logsumexp` in plain autograd operations (``torch.where``
    masks), differentiable to any order; an empty set gives ``-inf`` with zero gradient. Used for
    second derivatives; slower than the closed form."""
    t = targets.detach().to(logits.dtype)
    results = []
    for term in terms:
        member = membership(t, term.labels) > 0
        values = torch.where(member, logits * SIGNS[term.labels], -math.inf)
        line_max = values.detach().amax(term.dim, keepdim=True)
        empty = line_max == -math.inf
        shift = torch.where(empty, 0.0, line_max)
        total = torch.exp((values - shift) * term.scale).sum(term.dim, keepdim=True)
        soft = torch.log(torch.where(empty, 1.0, total)) / term.scale + shift
        results.append(torch.where(empty, -math.inf, soft).squeeze(term.dim))
    return results


class _LineLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, terms, head):
        ctx.set_materialize_grads(False)
        targets = targets.to(logits.dtype)
        layout = _stacked_lses if logits.numel() <= STACKED_ENTRIES else _per_set_lses
        soft_maxima, ctx.state = layout(logits, targets, terms)
        outputs, ctx.head_backward = head.forward(soft_maxima, logits)
        ctx.terms, ctx.head = terms, head
        ctx.save_for_backward(logits, targets)
        return outputs

    @staticmethod
    def backward(ctx, *grad_outputs):
        if torch.is_grad_enabled():  # create_graph=True: differentiate the plain-autograd form
            logits, targets = ctx.saved_tensors  # (only here: the first-order pass needs neither)
            outputs = ctx.head.reference(reference_soft_maxima(logits, targets, ctx.terms), logits)
            used = [(output, grad) for output, grad in zip(outputs, grad_outputs) if grad is not None]
            (grad,) = torch.autograd.grad([output for output, _ in used], logits, [grad for _, grad in used],
                                          create_graph=True, allow_unused=True)
            return grad, None, None, None
        line_grads, direct = ctx.head_backward(grad_outputs)
        grad = ctx.state.gradient(line_grads)
        if direct is not None:
            grad = direct if grad is None else grad.add_(direct)
        return grad, None, None, None


def line_loss(logits: torch.Tensor, targets: torch.Tensor, terms: tuple[SetLSE, ...],
              head: LineHead) -> tuple[torch.Tensor, ...]:
    """A loss of soft maxima: ``head.forward`` applied to :func:`set_logsumexp` of ``terms``, as
    one autograd function with the closed-form gradient of both parts (see :class:`LineHead`).
    ``logits`` must already be in the compute dtype; ``targets`` hold 1, 0, -1. Returns the
    head's output tuple."""
    return _LineLoss.apply(logits, targets, tuple(terms), head)


def count_lines(soft_maximum: torch.Tensor) -> int:
    """Lines whose set is not empty (their soft maximum is not ``-inf``)."""
    return int((soft_maximum != -math.inf).sum())


def mean_weight(reduction: str, count: int) -> float:
    """What a sum of line terms is multiplied by: ``1 / count`` for ``"mean"`` (1 when no line
    counts: the terms are then 0), 1 for ``"sum"``."""
    return 1.0 / max(count, 1) if reduction == "mean" else 1.0


def pair_softplus_head(reduction: str, scale: float = 1.0, margin: float = 0.0) -> LineHead:
    """The head of the two-way, margin-bias, LSEP and circle losses: with the terms in pairs
    (negatives, positives) per axis, softplus(scale (N + P) + margin) per line from their soft
    maxima N and P; d/dN = d/dP = scale sigmoid(scale (N + P) + margin). ``"mean"`` divides each
    axis's sum by its lines with a positive (the others have N + P = -inf: term 0); the axes'
    results are added; ``"none"`` returns one vector per axis."""

    def exponent(negative, positive):
        z = torch.add(negative, positive)
        if scale != 1:
            z.mul_(scale)
        return z.add_(margin) if margin else z

    def forward(soft_maxima, logits):
        exponents = [exponent(negative, positive) for negative, positive in zip(soft_maxima[0::2], soft_maxima[1::2])]
        per_line = [F.softplus(z) for z in exponents]
        if reduction == "none":
            def backward(grads):
                line_grads = [None if g is None else torch.sigmoid(z).mul_(g if scale == 1 else g * scale)
                              for z, g in zip(exponents, grads)]
                return [g for g in line_grads for _ in range(2)], None

            return tuple(per_line), backward
        weights = [mean_weight(reduction, count_lines(positive)) for positive in soft_maxima[1::2]]
        loss = per_line[0].sum().mul_(weights[0])
        if len(per_line) == 2:
            loss.add_(per_line[1].sum(), alpha=weights[1])

        def backward(grads):
            (g,) = grads
            line_grads = [None if g is None else torch.sigmoid(z).mul_(g * (scale * weight))
                          for z, weight in zip(exponents, weights)]
            return [g for g in line_grads for _ in range(2)], None

        return (loss,), backward

    def reference(soft_maxima, logits):
        pairs = list(zip(soft_maxima[0::2], soft_maxima[1::2]))
        per_line = [F.softplus(scale * (negative + positive) + margin) for negative, positive in pairs]
        if reduction == "none":
            return tuple(per_line)
        counts = [(positive != -math.inf).sum().clamp(min=1) for _, positive in pairs]
        return (sum(values.sum() / count if reduction == "mean" else values.sum()
                    for values, count in zip(per_line, counts)),)

    return LineHead(forward, reference)


def _identity_forward(soft_maxima, logits):
    return tuple(soft_maxima), lambda grads: (grads, None)


IDENTITY = LineHead(_identity_forward, lambda soft_maxima, logits: tuple(soft_maxima))


def set_logsumexp(logits: torch.Tensor, targets: torch.Tensor, terms: tuple[SetLSE, ...]) -> tuple[torch.Tensor, ...]:
    """Soft maxima ``LSE_{j in S}(a v_j) / a`` along rows or columns, one per ``SetLSE``
    (``a`` its ``scale``): between ``max_S v`` and ``max_S v + log|S| / a``.

    ``logits`` must already be in the compute dtype; ``targets`` hold 1, 0, -1. A line whose
    set is empty gives ``-inf``. The gradient is closed-form (see the module docstring) and
    differentiable again.
    """
    return line_loss(logits, targets, terms, IDENTITY)


def logsumexp_lines(*parts: torch.Tensor) -> torch.Tensor:
    """Elementwise log-sum-exp of equally shaped vectors; ``-inf`` where every part is ``-inf``,
    with zero (not NaN) gradient there. A part that overflowed to ``+inf`` is read as the
    largest finite number (the result is then ``inf`` with a finite gradient). NaN propagates."""
    stacked = torch.stack(parts)
    stacked = stacked.clamp(max=torch.finfo(stacked.dtype).max)
    some = stacked.amax(0) != -math.inf
    return torch.where(some, torch.logsumexp(torch.where(some, stacked, 0.0), 0), -math.inf)
