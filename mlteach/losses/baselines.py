"""Baselines the papers compare against: BCE on known entries, multi-label softmax, WARP.

Targets are 1 (positive), 0 (negative), -1 (unknown). float16 / bfloat16 logits are computed in
float32 and the loss is returned in float32. NaN logits give a NaN loss.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from ._checks import REAL, REDUCTIONS, check_logits_targets, check_settings, compute_dtype, reduce
from ._label_sets import LineHead, SetLSE, line_loss, mean_weight, membership, signed_values

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
    treated as constants in backprop. Computed without a ``|P| x |N|`` tensor: each sample's
    positives are sorted (k = most positives in a sample), every negative is put in the bucket
    of the positives it violates (``searchsorted``), and suffix sums of the bucket counts and
    logit sums give ``r_p`` and ``sum_{violators} x_n``: O(B C log k). Samples without
    positives are skipped: ``"mean"`` divides by the number of samples with a positive;
    ``"none"`` returns the ``[B]`` terms.

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
    t = targets.detach().to(x.dtype)
    positive, negative = membership(t, "positive"), membership(t, "negative")
    positives = positive.sum(1)
    most = int(positives.max())
    if most == 0:
        return reduce(x.sum(1) * 0, reduction, 0)
    # each sample's positives in ascending order, padded with +inf
    lowest, _ = signed_values(x, positive, "positive").topk(most, dim=1)
    lowest = -lowest
    # bucket j of a negative: it violates the j lowest positives (x_n > x_p - margin)
    bucket = torch.searchsorted((lowest - margin).detach(), x.detach())
    counts = x.new_zeros(x.shape[0], most + 1).scatter_add_(1, bucket, negative)
    sums = x.new_zeros(x.shape[0], most + 1).scatter_add(1, bucket, x * negative)
    # positive i (0-based) is violated by the negatives in buckets i + 1 and above
    ranks = counts.flip(1).cumsum(1).flip(1)[:, 1:].long()
    violator_sums = sums.flip(1).cumsum(1).flip(1)[:, 1:]
    real = torch.arange(most, device=x.device) < positives.unsqueeze(1)
    harmonic = F.pad(torch.arange(1, x.shape[1] + 1, dtype=x.dtype, device=x.device).reciprocal().cumsum(0), (1, 0))
    hinge_sums = ranks * (margin - torch.where(real, lowest, 0.0)) + violator_sums
    terms = torch.where(real, harmonic[ranks] * hinge_sums, 0.0).sum(1)
    return reduce(terms, reduction, (positives > 0).sum())


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
