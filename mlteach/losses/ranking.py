"""Pairwise ranking losses in O(B*C): LSEP, ZLPR and the DR loss (DR paper, Sec. 3).

Each loss compares the positive and negative logits of one line of the ``[B, C]`` score matrix:
a row (a sample, over classes) or, class-wise, a column (a class, over the batch). The pairwise
double sum factorises into two log-sum-exps,

    log(1 + sum_{i in P} sum_{j in N} e^{gamma (s_j - s_i)}) = softplus(LSE_j(gamma s_j) + LSE_i(-gamma s_i)),

so no ``|P| x |N|`` tensor is ever built. Targets are 1 (positive), 0 (negative), -1 (unknown:
in neither set). Each loss has a closed-form gradient (one forward and one backward pass over
the logits, see :func:`mlteach.losses._label_sets.line_loss`), differentiable again for second
derivatives.
float16 / bfloat16 logits are computed in float32 and the loss is returned in float32. NaN
logits give a NaN loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import FLAG, POSITIVE, REDUCTIONS, check_logits_targets, check_settings, compute_dtype, reduce
from ._label_sets import LineHead, SetLSE, line_loss, logsumexp_lines, mean_weight, pair_softplus_head

__all__ = ["lsep_loss", "zlpr_loss", "dr_loss", "LSEPLoss", "ZLPRLoss", "DRLoss"]

CONSTRAINTS = ("negative", "positive", "both", "none")
LSEP_SETTINGS = {"gamma": POSITIVE, "class_wise": FLAG, "reduction": REDUCTIONS}
ZLPR_SETTINGS = {"class_wise": FLAG, "reduction": REDUCTIONS}
DR_SETTINGS = {"gamma1": POSITIVE, "gamma2": POSITIVE, "constraint": CONSTRAINTS, "reduction": REDUCTIONS}


def _line_dim(class_wise: bool) -> int:
    return 0 if class_wise else 1


def _zlpr_head(reduction: str) -> LineHead:
    """softplus(P) + softplus(N) per line with a positive, 0 on the others; d/dN = sigmoid(N)
    and d/dP = sigmoid(P) there. ``"mean"``: over the lines with a positive."""

    def forward(soft_maxima, logits):
        negative, positive = soft_maxima
        no_positive = positive == -torch.inf
        negative = torch.where(no_positive, -torch.inf, negative)  # softplus and sigmoid give 0 there
        terms = F.softplus(negative).add_(F.softplus(positive))
        weight = None if reduction == "none" else mean_weight(reduction, no_positive.numel() - int(no_positive.sum()))

        def backward(grads):
            (g,) = grads
            if g is None:
                return [None, None], None
            g = g if weight is None else g * weight
            return [torch.sigmoid(negative).mul_(g), torch.sigmoid(positive).mul_(g)], None

        return ((terms,) if weight is None else (terms.sum().mul_(weight),)), backward

    def reference(soft_maxima, logits):
        negative, positive = soft_maxima
        has_positive = positive != -torch.inf
        terms = torch.where(has_positive, F.softplus(negative) + F.softplus(positive), 0.0)
        return (reduce(terms, reduction, has_positive.sum()),)

    return LineHead(forward, reference)


def _dr_head(gamma1: float, gamma2: float, reduction: str) -> LineHead:
    """softplus(E) per class, E = LSE(gamma1 (N + P), gamma2 G_1, ...) from the soft maxima N, P
    (scale gamma1) and the constraint terms G_k (scale gamma2); d/dN = d/dP = gamma1 s_0 sigmoid(E)
    and d/dG_k = gamma2 s_k sigmoid(E), with s the softmax of E's parts. ``"mean"``: over all
    classes. A part that overflowed to ``+inf`` is read as the largest finite number."""

    def forward(soft_maxima, logits):
        negative, positive, *constraints = soft_maxima
        pair = torch.add(negative, positive).mul_(gamma1)
        if constraints:
            parts = torch.stack([pair, *(constraint * gamma2 for constraint in constraints)])
            parts.clamp_(max=torch.finfo(parts.dtype).max)
            exponent = torch.logaddexp(parts[0], parts[1]) if len(parts) == 2 else torch.logsumexp(parts, 0)
        else:
            exponent = pair
        terms = F.softplus(exponent)
        weight = None if reduction == "none" else mean_weight(reduction, exponent.numel())

        def backward(grads):
            (g,) = grads
            if g is None:
                return [None] * len(soft_maxima), None
            line = torch.sigmoid(exponent).mul_(g if weight is None else g * weight)
            if not constraints:
                line.mul_(gamma1)
                return [line, line], None
            # shares of the parts; a class whose parts are all -inf has sigmoid(E) = 0
            shares = torch.exp(parts - exponent).nan_to_num_(nan=0.0).mul_(line)
            pair_grad = shares[0].mul_(gamma1)
            return [pair_grad, pair_grad, *shares[1:].mul_(gamma2)], None

        return ((terms,) if weight is None else (terms.sum().mul_(weight),)), backward

    def reference(soft_maxima, logits):
        negative, positive, *constraints = soft_maxima
        exponent = gamma1 * (negative + positive)
        if constraints:
            exponent = logsumexp_lines(exponent, *(gamma2 * constraint for constraint in constraints))
        return (reduce(F.softplus(exponent), reduction),)

    return LineHead(forward, reference)


def lsep_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 1.0, class_wise: bool = False,
              reduction: str = "mean") -> torch.Tensor:
    r"""Log-sum-exp pairwise loss (DR paper eq. 3; eq. 7 with ``gamma`` and ``class_wise=True``).

    Per line (sample, or class if ``class_wise``) with positive set P and negative set N:

        ell = log(1 + sum_{i in P} sum_{j in N} e^{gamma (s_j - s_i)})
            = softplus(LSE_{j in N}(gamma s_j) + LSE_{i in P}(-gamma s_i)).

    A line without positives or without negatives contributes 0. ``reduction="mean"`` divides
    the sum by the number of lines with at least one positive; ``"none"`` returns the ``[B]``
    (or ``[C]``) terms. ``gamma`` must be > 0.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(lsep_loss(logits, targets).item(), 4)
    0.2773
    >>> lsep_loss(logits, targets, reduction="none")
    tensor([0.2413, 0.3133])
    """
    name = "lsep_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, LSEP_SETTINGS, gamma=gamma, class_wise=class_wise, reduction=reduction)
    dim = _line_dim(class_wise)
    terms = (SetLSE("negative", gamma, dim), SetLSE("positive", gamma, dim))
    (loss,) = line_loss(logits.to(compute_dtype(logits)), targets, terms, pair_softplus_head(reduction, scale=gamma))
    return loss


def zlpr_loss(logits: torch.Tensor, targets: torch.Tensor, class_wise: bool = False,
              reduction: str = "mean") -> torch.Tensor:
    r"""Zero-bounded log-sum-exp pairwise loss, ZLPR (DR paper eq. 4).

    Per line (sample, or class if ``class_wise``):

        ell = log(1 + sum_{i in P} e^{-s_i}) + log(1 + sum_{j in N} e^{s_j})
            = softplus(LSE_{i in P}(-s_i)) + softplus(LSE_{j in N}(s_j)).

    Following the project specification, only lines with at least one positive count: a line
    without positives contributes 0 (its negative term included) and ``"mean"`` divides by the
    number of lines with a positive. ``"none"`` returns the ``[B]`` (or ``[C]``) terms.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(zlpr_loss(logits, targets).item(), 4)
    0.9373
    """
    name = "zlpr_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, ZLPR_SETTINGS, class_wise=class_wise, reduction=reduction)
    dim = _line_dim(class_wise)
    (loss,) = line_loss(logits.to(compute_dtype(logits)), targets,
                        (SetLSE("negative", 1.0, dim), SetLSE("positive", 1.0, dim)), _zlpr_head(reduction))
    return loss


def dr_loss(logits: torch.Tensor, targets: torch.Tensor, gamma1: float = 5.0, gamma2: float = 7.0,
            constraint: str = "negative", reduction: str = "mean") -> torch.Tensor:
    r"""Distributionally robust loss: class-wise LSEP plus a gradient constraint (DR paper eq. 8).

    Per class k, over the batch, with positive set P and negative set N of column k:

        ell_k = log(1 + sum_{i in P} sum_{j in N} e^{gamma1 (s_j - s_i)} + sum_{j in N} e^{gamma2 s_j})
              = softplus(logaddexp(LSE_N(gamma1 s) + LSE_P(-gamma1 s), LSE_N(gamma2 s))).

    ``constraint`` selects the extra term (the ablation of Table 4): ``"negative"`` (NGC, the
    DR loss, shown above), ``"positive"`` (PGC: ``sum_{i in P} e^{-gamma2 s_i}``), ``"both"``
    (GC: both sums) or ``"none"`` (C-LSEP with ``gamma1``, eq. 7). A class without positives
    keeps its NGC term; a class without negatives has only its PGC term. ``"mean"`` averages
    over all C classes (as the authors' trainer); ``"none"`` returns the ``[C]`` terms. Paper
    values: ``gamma1=5``, ``gamma2=7`` (VOC-LT) or ``10`` (COCO-LT). Gradient of a negative
    logit: eq. 10 (eq. 9 without the constraint).

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> dr_loss(logits, targets, reduction="none")
    tensor([0.6932, 0.0010, 0.0000])
    """
    name = "dr_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, DR_SETTINGS, gamma1=gamma1, gamma2=gamma2, constraint=constraint, reduction=reduction)
    terms = [SetLSE("negative", gamma1, 0), SetLSE("positive", gamma1, 0)]
    if constraint in ("negative", "both"):
        terms.append(SetLSE("negative", gamma2, 0))
    if constraint in ("positive", "both"):
        terms.append(SetLSE("positive", gamma2, 0))
    (loss,) = line_loss(logits.to(compute_dtype(logits)), targets, tuple(terms), _dr_head(gamma1, gamma2, reduction))
    return loss


class LSEPLoss(nn.Module):
    """Module form of :func:`lsep_loss`."""

    def __init__(self, gamma: float = 1.0, class_wise: bool = False, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, LSEP_SETTINGS, gamma=gamma, class_wise=class_wise, reduction=reduction)
        self.gamma, self.class_wise, self.reduction = gamma, class_wise, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return lsep_loss(logits, targets, self.gamma, self.class_wise, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, class_wise={self.class_wise}, reduction={self.reduction!r}"


class ZLPRLoss(nn.Module):
    """Module form of :func:`zlpr_loss`."""

    def __init__(self, class_wise: bool = False, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, ZLPR_SETTINGS, class_wise=class_wise, reduction=reduction)
        self.class_wise, self.reduction = class_wise, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return zlpr_loss(logits, targets, self.class_wise, self.reduction)

    def extra_repr(self) -> str:
        return f"class_wise={self.class_wise}, reduction={self.reduction!r}"


class DRLoss(nn.Module):
    """Module form of :func:`dr_loss`."""

    def __init__(self, gamma1: float = 5.0, gamma2: float = 7.0, constraint: str = "negative",
                 reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, DR_SETTINGS, gamma1=gamma1, gamma2=gamma2, constraint=constraint,
                       reduction=reduction)
        self.gamma1, self.gamma2, self.constraint, self.reduction = gamma1, gamma2, constraint, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return dr_loss(logits, targets, self.gamma1, self.gamma2, self.constraint, self.reduction)

    def extra_repr(self) -> str:
        return (f"gamma1={self.gamma1}, gamma2={self.gamma2}, constraint={self.constraint!r}, "
                f"reduction={self.reduction!r}")
