"""Baselines the papers compare against: BCE on known entries, multi-label softmax, WARP.

Targets are 1 (positive), 0 (negative), -1 (unknown). float16 / bfloat16 logits are computed in
float32 and the loss is returned in float32. NaN logits give a NaN loss.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import REAL, REDUCTIONS, check_logits_targets, check_settings, compute_dtype, reduce
from ._label_sets import LineHead, SetLSE, flat_members, line_loss, mean_weight, membership

REDUCTION_SETTINGS = {"reduction": REDUCTIONS}
WARP_SETTINGS = {"margin": REAL, "reduction": REDUCTIONS}

__all__ = ["bce_loss", "multilabel_softmax_loss", "warp_loss", "BCELoss", "MultiLabelSoftmaxLoss", "WARPLoss"]


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Binary cross-entropy on the known entries only.

        ell_bc = softplus(x_bc) - y_bc x_bc = -y log sigmoid(x) - (1 - y) log(1 - sigmoid(x)),   y in {0, 1}.

    Unknown entries (-1) contribute nothing (unlike ``assume_negative_loss``, which counts them
    as negatives). ``"mean"`` divides by the number of known entries; ``"none"`` returns the
    ``[B, C]`` terms, 0 at unknown entries.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(bce_loss(logits, targets).item(), 4)
    0.3841
    """
    name = "bce_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, REDUCTION_SETTINGS, reduction=reduction)
    x = logits.to(compute_dtype(logits))
    t = targets.detach().to(x.dtype)  # labels carry no gradient
    known = membership(t, "known")
    if reduction == "none":
        return F.binary_cross_entropy_with_logits(x, t.clamp(min=0), weight=known, reduction="none")
    total = F.binary_cross_entropy_with_logits(x, t.clamp(min=0), weight=known, reduction="sum")
    return reduce(total, reduction, known.sum())


def multilabel_softmax_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    r"""Softmax cross-entropy against the normalised positive set (the "Softmax" baseline).

    Per sample with positive set P and known set K (positives and negatives):

        ell = -sum_{p in P} (1/|P|) log softmax_K(x)_p = LSE_{k in K}(x_k) - (1/|P|) sum_{p in P} x_p.

    Unknown entries are left out of the softmax. Samples without positives are skipped:
    their term is 0 and ``"mean"`` divides by the number of samples with a positive. ``"none"``
    returns the ``[B]`` terms.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(multilabel_softmax_loss(logits, targets).item(), 4)
    0.6523
    """
    name = "multilabel_softmax_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, REDUCTION_SETTINGS, reduction=reduction)
    x = logits.to(compute_dtype(logits))
    positive = membership(targets.detach().to(x.dtype), "positive")
    positives = positive.sum(1)
    # weights 1/|P| before the sum, so that the sum of positive logits cannot overflow
    weights = positive.div_(positives.clamp(min=1).unsqueeze(1))
    (loss,) = line_loss(x, targets, (SetLSE("known", 1.0, 1),), _softmax_head(weights, positives > 0, reduction))
    return loss


def _softmax_head(weights: torch.Tensor, has_positive: torch.Tensor, reduction: str) -> LineHead:
    """``K - sum_p w_p x_p`` per sample with a positive (K the soft maximum of the known entries,
    w = 1/|P| on positives), 0 on the others; d/dK = 1 and d/dx = -w there."""
    count = int(has_positive.sum())

    def forward(soft_maxima, logits):
        (known,) = soft_maxima
        terms = torch.where(has_positive, known - (logits * weights).sum(1), 0.0)
        weight = None if reduction == "none" else mean_weight(reduction, count)

        def backward(grads):
            (g,) = grads
            if g is None:
                return [None], None
            line = torch.where(has_positive, g if weight is None else g * weight, 0.0)
            return [line], weights * line.neg().unsqueeze(1)

        return ((terms,) if weight is None else (terms.sum().mul_(weight),)), backward

    def reference(soft_maxima, logits):
        (known,) = soft_maxima
        terms = torch.where(has_positive, known - (logits * weights).sum(1), 0.0)
        return (reduce(terms, reduction, count),)

    return LineHead(forward, reference)


def warp_loss(logits: torch.Tensor, targets: torch.Tensor, margin: float = 1.0,
              reduction: str = "mean") -> torch.Tensor:
    r"""WARP: rank-weighted pairwise hinge loss (Gong et al. 2014), with exact ranks.

    Per sample with positive set P and negative set N:

        ell = sum_{p in P} L(r_p) sum_{n in N} max(0, margin - x_p + x_n),   L(r) = sum_{i=1}^{r} 1/i,

    where ``r_p = |{n in N : x_n > x_p - margin}|`` is the number of negatives violating the
    margin against ``p`` (the rank the original paper estimates by sampling). The ranks are
    treated as constants in backprop, so the gradient is closed form -- ``-L(r_p) r_p`` for a
    positive, the sum of ``L(r_p)`` over the positives it violates for a negative -- and the
    second derivative is 0. Each positive's hinges ``max(0, x_n - (x_p - margin))`` over its
    sample's classes (0 off the negatives) give ``r_p`` (the nonzero ones) and the hinge sum:
    O(|P| C) for the batch's |P| positives, in blocks of samples that stay in cache on CPU.
    Samples without positives are skipped: ``"mean"`` divides by the number of samples with a
    positive; ``"none"`` returns the ``[B]`` terms. A NaN logit in a sample with a positive
    makes its term NaN.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(warp_loss(logits, targets).item(), 4)
    0.0
    >>> warp_loss(logits, targets, margin=2.0, reduction="none")
    tensor([0.5000, 1.0000])
    """
    name = "warp_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, WARP_SETTINGS, margin=margin, reduction=reduction)
    x = logits.to(compute_dtype(logits))
    return _WARP.apply(x, targets.detach().to(x.dtype), float(margin), reduction)


#: samples per block on CPU: about this many logits, so that a block and its hinge rows stay in
#: a core's cache
WARP_BLOCK_ENTRIES = 1 << 17
#: at most this many hinge entries (positives x classes) at once, on any device: bounds the
#: memory when samples have many positives
WARP_HINGE_ENTRIES = 1 << 22


@functools.lru_cache(maxsize=32)
def _rank_weights(classes: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[L(r), -r L(r)]`` for the ranks r = 0..classes, as a ``[2, classes + 1]`` table (summed in
    float64; cached, read only)."""
    ranks = torch.arange(classes + 1, dtype=torch.float64)
    harmonic = F.pad(ranks[1:].reciprocal().cumsum(0), (1, 0))
    return torch.stack([harmonic, -ranks * harmonic]).to(dtype=dtype, device=device)


def _warp_block(x: torch.Tensor, t: torch.Tensor, margin: float, table: torch.Tensor, grad):
    """WARP on a block of samples: writes ``d ell / d x`` into ``grad`` (None: not needed) and
    returns, for each positive p in row-major order, its row, ``L(r_p)`` and its hinge sum."""
    classes = x.shape[1]
    positives = flat_members(t.clamp(min=0))  # flat indices, row-major
    rows = positives.div(classes, rounding_mode="floor")
    thresholds = x.view(-1).index_select(0, positives).sub_(margin).unsqueeze(1)  # x_p - margin
    square = t * t
    negatives = torch.addcdiv(x, square, square.sub(1), value=-1)  # x on negatives, -inf elsewhere
    if grad is not None:
        grad.zero_()  # here, while the block is in cache
    step = max(1, WARP_HINGE_ENTRIES // classes)
    if len(positives) <= step:
        return (rows, *_warp_hinges(negatives, positives, rows, thresholds, table, grad))
    chunks = [_warp_hinges(negatives, positives[i:i + step], rows[i:i + step], thresholds[i:i + step],
                           table, grad) for i in range(0, len(positives), step)]
    return (rows, *(torch.cat(pieces) for pieces in zip(*chunks)))


def _warp_hinges(negatives, positives, rows, thresholds, table, grad):
    """``L(r_p)`` and the hinge sum of each positive, from its row of hinges over the negatives."""
    # x_n - (x_p - margin) > 0 exactly when x_n > x_p - margin (IEEE subtraction): a tie is no violation
    hinges = negatives.index_select(0, rows).sub_(thresholds).clamp_(min=0)
    hinge_sums = hinges.sum(1)
    weights, positive_grads = table.index_select(1, hinges.gt_(0).sum(1).long())  # a NaN hinge counts 0
    if grad is not None:
        grad.index_add_(0, rows, hinges.mul_(weights.unsqueeze(1)))
        grad.view(-1).index_copy_(0, positives, positive_grads)
    return weights, hinge_sums


class _WARP(torch.autograd.Function):
    """:func:`warp_loss` on float logits and targets: the loss and its closed-form gradient in
    one pass over blocks of samples; backward scales the kept gradient."""

    @staticmethod
    def forward(ctx, logits, t, margin, reduction):
        x, t = logits.contiguous(), t.contiguous()
        table = _rank_weights(x.shape[1], x.dtype, x.device)
        local_grad = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        terms = x.new_zeros(x.shape[0]) if reduction == "none" else None
        total, samples = None, 0
        step = max(1, WARP_BLOCK_ENTRIES // x.shape[1]) if x.device.type == "cpu" else x.shape[0]
        for start in range(0, x.shape[0], step):
            part = slice(start, start + step)
            rows, weights, hinge_sums = _warp_block(x[part], t[part], margin, table,
                                                    None if local_grad is None else local_grad[part])
            if terms is not None:
                terms[part].index_add_(0, rows, weights.mul_(hinge_sums))
                continue
            block_total = torch.dot(weights, hinge_sums)
            total = block_total if total is None else total.add_(block_total)
            if reduction == "mean":
                samples += rows.unique_consecutive().numel()
        ctx.scale = None if terms is not None else 1.0 if reduction == "sum" else 1.0 / max(samples, 1)
        ctx.save_for_backward(local_grad, logits)
        return terms if terms is not None else total.mul_(ctx.scale)

    @staticmethod
    def backward(ctx, grad_value):
        local_grad, logits = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: the gradient as a function of the logits
            local_grad = _RankConstantGradient.apply(logits, local_grad)
        if ctx.scale is None:
            return local_grad * grad_value.unsqueeze(1), None, None, None
        return local_grad * (grad_value * ctx.scale), None, None, None


class _RankConstantGradient(torch.autograd.Function):
    """WARP's gradient as a function of the logits, for second derivatives: constant wherever it
    is defined (the ranks are constants and the hinges linear), so its own derivative is 0."""

    @staticmethod
    def forward(ctx, logits, local_grad):
        return local_grad.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.zeros_like(grad), None


class BCELoss(nn.Module):
    """Module form of :func:`bce_loss` (BCE on known entries; not :class:`torch.nn.BCELoss`)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, REDUCTION_SETTINGS, reduction=reduction)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return bce_loss(logits, targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MultiLabelSoftmaxLoss(nn.Module):
    """Module form of :func:`multilabel_softmax_loss`."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, REDUCTION_SETTINGS, reduction=reduction)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return multilabel_softmax_loss(logits, targets, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class WARPLoss(nn.Module):
    """Module form of :func:`warp_loss`."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, WARP_SETTINGS, margin=margin, reduction=reduction)
        self.margin, self.reduction = margin, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return warp_loss(logits, targets, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
