"""Losses for partial and single-positive labels, where ``-1`` marks an unknown target.

- AN, "assume negative": plain BCE with every unknown read as a negative, and its weak
  variants from the EM paper's comparison (supplement C.2): DW (down-weighted assumed
  negatives), LS / N-LS (label smoothing on all labels / on assumed negatives only) and
  EntMin (entropy minimisation on unknowns).
- EM, "entropy maximisation" (Zhou et al., ECCV 2022), with the soft negative pseudo-labels of
  APL (asymmetric pseudo-labelling); :func:`apl_pseudo_labels` is the per-epoch APL step (and
  the hard and positive variants the EM supplement's Sec. D asks about).
- LL-R / LL-Ct / LL-Cp, "Large Loss Matters" (Kim et al., CVPR 2022): reject or correct the
  largest losses among unknown entries; :func:`large_loss_with_selection` gives the trainer the
  loss and the entries to relabel for LL-Cp from one ranking, :func:`large_loss_rate` and
  :func:`large_loss_threshold` the schedules.

Every loss is a sum of per-entry terms and ``reduction="mean"`` divides it by ``B * C`` (the
authors' code). Logarithms are exact log-sigmoids; float16 / bfloat16 logits are computed and
returned in float32. The EM, EntMin and Large Loss gradients are closed forms, each also
written in differentiable operations for exact second derivatives. A functional loss and its
module twin check their hyper-parameters with one shared rules dict. NaN logits give NaN
losses (torch convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    NONNEGATIVE,
    REAL,
    REDUCTIONS,
    UNIT_INTERVAL,
    Maybe,
    Range,
    check_choice,
    check_logits_targets,
    check_nonnegative,
    check_number,
    check_reduction,
    check_settings,
    check_soft_targets,
    check_unit_interval,
    closed_form_loss,
    compute_dtype,
    handed_over_gradient,
    row_blocks,
)

__all__ = [
    "LARGE_LOSS_SCHEMES",
    "assume_negative_loss",
    "down_weight_loss",
    "label_smoothing_loss",
    "negative_label_smoothing_loss",
    "entropy_minimization_loss",
    "entropy_maximization_loss",
    "apl_pseudo_labels",
    "large_loss",
    "large_loss_selection",
    "large_loss_with_selection",
    "large_loss_rate",
    "large_loss_threshold",
    "AssumeNegativeLoss",
    "DownWeightLoss",
    "LabelSmoothingLoss",
    "NegativeLabelSmoothingLoss",
    "EntropyMinimizationLoss",
    "EntropyMaximizationLoss",
    "LargeLoss",
]

LARGE_LOSS_SCHEMES = ("LL-R", "LL-Ct", "LL-Cp")

REDUCTION_SETTINGS = {"reduction": REDUCTIONS}
DOWN_WEIGHT_SETTINGS = {"assumed_negative_weight": UNIT_INTERVAL, "reduction": REDUCTIONS}
SMOOTHING_SETTINGS = {"smoothing": Range(0, 0.5), "reduction": REDUCTIONS}
ENTROPY_MINIMIZATION_SETTINGS = {"alpha": NONNEGATIVE, "reduction": REDUCTIONS}
ENTROPY_MAXIMIZATION_SETTINGS = {"alpha": NONNEGATIVE, "beta": NONNEGATIVE, "reduction": REDUCTIONS}
#: rate and threshold may each be None here; the loss itself needs exactly one of them
LARGE_LOSS_SETTINGS = {"rate": Maybe(UNIT_INTERVAL), "scheme": LARGE_LOSS_SCHEMES, "reduction": REDUCTIONS,
                       "threshold": Maybe(REAL)}


def _label_indicators(targets: torch.Tensor, dtype: torch.dtype):
    """``(positive, unknown)`` as 0/1 floats. For t in {1, 0, -1}: positive = max(t, 0) and
    unknown = max(-t, 0) = positive - t (arithmetic, no boolean masks)."""
    positive = targets.clamp_min(0).to(dtype)
    return positive, positive - targets.to(dtype)


def _prepare(logits, targets, reduction, name):
    check_logits_targets(logits, targets, name=name)
    check_reduction(reduction, name=name)
    return logits.to(compute_dtype(logits))


def assume_negative_loss(logits: torch.Tensor, targets: torch.Tensor,
                         reduction: str = "mean") -> torch.Tensor:
    r"""AN, "assume negative" (EM paper eq. 1): BCE with every unknown target read as 0.

    .. math:: \ell = -y \log\sigma(x) - (1 - y) \log\sigma(-x),
              \quad y = 1 \text{ on known positives, } 0 \text{ elsewhere.}

    ``"mean"`` divides by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(assume_negative_loss(logits, targets).item(), 4)
    0.3694
    """
    x = _prepare(logits, targets, reduction, "assume_negative_loss")
    positive = targets.detach().clamp_min(0).to(x.dtype)
    return F.binary_cross_entropy_with_logits(x, positive, reduction=reduction)


def down_weight_loss(logits: torch.Tensor, targets: torch.Tensor,
                     assumed_negative_weight: float = 0.1, reduction: str = "mean") -> torch.Tensor:
    r"""DW: AN with the assumed-negative (unknown) terms multiplied by a weight w.

    .. math:: \ell = -\log\sigma(x) \text{ (known positive)}, \;
              -\log\sigma(-x) \text{ (known negative)}, \;
              -w \log\sigma(-x) \text{ (unknown)}.

    The default w = 0.1 is the EM paper's selection for VOC, COCO and NUS (supplement C.3,
    baseline 1, tuned in {0.01, 0.02, 0.1, 0.2, 0.4, 0.9}; 0.02 for CUB). ``"mean"`` divides
    by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(down_weight_loss(logits, targets).item(), 4)
    0.1052
    """
    name = "down_weight_loss"
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, DOWN_WEIGHT_SETTINGS, assumed_negative_weight=assumed_negative_weight)
    positive, unknown = _label_indicators(targets.detach(), x.dtype)
    weight = unknown.mul_(assumed_negative_weight - 1).add_(1)
    return F.binary_cross_entropy_with_logits(x, positive, weight=weight, reduction=reduction)


def label_smoothing_loss(logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.1,
                         reduction: str = "mean") -> torch.Tensor:
    r"""LS: AN with label smoothing on every label: BCE against 1 - eps (positives) and eps
    (known and assumed negatives), the convention of the single-positive baselines.

    .. math:: \ell = -\tilde y \log\sigma(x) - (1 - \tilde y) \log\sigma(-x),
              \quad \tilde y = \varepsilon + (1 - 2\varepsilon) y.

    Default eps = 0.1, the EM paper's selection on all four datasets (supplement C.3).
    ``"mean"`` divides by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(label_smoothing_loss(logits, targets).item(), 4)
    0.4778
    """
    name = "label_smoothing_loss"
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, SMOOTHING_SETTINGS, smoothing=smoothing)
    soft = targets.detach().clamp_min(0).to(x.dtype).mul_(1 - 2 * smoothing).add_(smoothing)
    return F.binary_cross_entropy_with_logits(x, soft, reduction=reduction)


def negative_label_smoothing_loss(logits: torch.Tensor, targets: torch.Tensor,
                                  smoothing: float = 0.1, reduction: str = "mean") -> torch.Tensor:
    r"""N-LS: AN with label smoothing on assumed negatives only: unknown entries get the soft
    target eps; known positives keep 1 and known negatives 0.

    .. math:: \ell = -\tilde y \log\sigma(x) - (1 - \tilde y) \log\sigma(-x),
              \quad \tilde y = 1, 0, \varepsilon \text{ (known positive, known negative,
              unknown)}.

    Default eps = 0.1, the EM paper's selection for COCO, NUS and CUB (0.3 for VOC;
    supplement C.3). ``"mean"`` divides by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(negative_label_smoothing_loss(logits, targets).item(), 4)
    0.3861
    """
    name = "negative_label_smoothing_loss"
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, SMOOTHING_SETTINGS, smoothing=smoothing)
    positive, unknown = _label_indicators(targets.detach(), x.dtype)
    return F.binary_cross_entropy_with_logits(x, positive.add_(unknown, alpha=smoothing),
                                              reduction=reduction)


def _entropy_regularised_coefficients(targets, pseudo_targets, dtype, entropy_weight, pseudo_weight):
    """The per-entry coefficients ``(a, b, c)`` of :func:`_entropy_regularised_kernel`."""
    t = targets.to(dtype)
    pos_coef = t.clamp_min(0)  # a: 1 on known positives
    unknown = pos_coef - t  # 1 on unknown entries (t = -1)
    neg_coef = t.abs().neg_().add_(1)  # b: 1 on known negatives
    if pseudo_targets is not None:
        # beta BCE(p, s): a += beta s, b += beta (1 - s), and the entry leaves the entropy set
        has_pseudo = pseudo_targets.isnan().logical_not_().to(dtype)
        soft = torch.nan_to_num(pseudo_targets, 0.0).to(dtype).mul_(pseudo_weight)
        pos_coef.add_(soft)
        neg_coef.add_(has_pseudo, alpha=pseudo_weight).sub_(soft)
        unknown.sub_(has_pseudo)
    return pos_coef, neg_coef, unknown.mul_(entropy_weight)


def _entropy_regularised_gradient(targets, pseudo_targets, entropy_weight: float, pseudo_weight: float = 0.0):
    """The kernel's gradient ``(a + b) p - a - c x p (1 - p)`` in differentiable operations."""

    def gradient(x):
        a, b, c = _entropy_regularised_coefficients(targets.detach(), pseudo_targets, x.dtype, entropy_weight,
                                                    pseudo_weight)
        p = torch.sigmoid(x)
        return (a + b) * p - a - c * x * p * torch.sigmoid(-x)

    return gradient


def _entropy_regularised_kernel(entropy_weight: float, pseudo_weight: float = 0.0):
    """Kernel of the EM family: per entry, with p = sigmoid(x),

    -log p (known positive), -log(1 - p) (known negative), ``entropy_weight * H(p)``
    (unknown), and ``pseudo_weight * BCE(p, s)`` (unknown with a pseudo-target s).

    Written as -a log p - b log(1 - p) + c H(p) with per-entry coefficients a, b, c and
    H(p) = -p log p - (1 - p) log(1 - p):
    loss = -(a + c p) log p - (b + c (1 - p)) log(1 - p), free of cancellation at large |x|
    (each logarithm is multiplied by a probability that vanishes where it grows), and
    d loss / dx = (a + b) p - a - c x p (1 - p)   (EM supplement eqs. 9-11).
    """

    def kernel(x, targets, pseudo_targets, need_grad):
        pos_coef, neg_coef, entropy_coef = _entropy_regularised_coefficients(
            targets, pseudo_targets, x.dtype, entropy_weight, pseudo_weight)
        cross_entropy_coef = pos_coef + neg_coef if need_grad else None  # a + b
        log_p = F.logsigmoid(x)
        log_not_p = log_p - x  # log(1 - p)
        p = log_p.exp()
        not_p = log_not_p.exp()  # 1 - p without rounding when p is near 1
        values = torch.addcmul(pos_coef, entropy_coef, p).mul_(log_p)
        values.addcmul_(neg_coef.addcmul_(entropy_coef, not_p), log_not_p).neg_()
        if not need_grad:
            return values, None
        grad = cross_entropy_coef.mul_(p).sub_(pos_coef)
        grad.addcmul_(entropy_coef.mul_(x), p.mul_(not_p), value=-1)
        return values, grad

    return kernel


def entropy_minimization_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.9,
                              reduction: str = "mean") -> torch.Tensor:
    r"""EntMin: BCE on known entries plus alpha times the binary entropy of each unknown one
    (entropy minimisation, Grandvalet & Bengio 2004; a baseline of the EM paper).

    .. math:: \ell = -\log p \text{ (known positive)}, \; -\log(1 - p) \text{ (known
              negative)}, \; \alpha H(p) \text{ (unknown)}, \quad
              H(p) = -p \log p - (1 - p) \log(1 - p).

    The mirror image of :func:`entropy_maximization_loss`. Default alpha = 0.9, the EM
    paper's selection for COCO (supplement C.3). ``"mean"`` divides by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(entropy_minimization_loss(logits, targets).item(), 4)
    0.3621
    """
    name = "entropy_minimization_loss"
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, ENTROPY_MINIMIZATION_SETTINGS, alpha=alpha)
    return closed_form_loss(_entropy_regularised_kernel(alpha), _entropy_regularised_gradient(targets, None, alpha),
                            x, targets, None, reduction=reduction)


def entropy_maximization_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.1,
                              pseudo_targets: torch.Tensor | None = None, beta: float = 0.9,
                              reduction: str = "mean") -> torch.Tensor:
    r"""EM loss (Zhou et al., ECCV 2022, eq. 5), with optional APL pseudo-targets (eq. 8).

    With :math:`p = \sigma(x)` and :math:`H(p) = -p\log p - (1-p)\log(1-p)`:

    .. math:: \ell = -\log p \text{ (known positive)}, \; -\log(1 - p) \text{ (known
              negative)}, \; -\alpha H(p) \text{ (unknown)}.

    Gradients (supplement eqs. 9-11): :math:`p - 1`, :math:`p` and
    :math:`\alpha\, x\, p (1 - p)` = :math:`-\alpha e^{-x}\log e^{-x} / (1 + e^{-x})^2`.
    An unknown entry with an APL pseudo-target s (``pseudo_targets`` not NaN) contributes
    :math:`\beta\,\mathrm{BCE}(p, s)` instead, with gradient :math:`\beta (p - s)`; a
    pseudo-target on a known entry raises ``ValueError``. ``"mean"`` divides by ``B * C``.
    Defaults alpha = 0.1, beta = 0.9 are the paper's COCO values (supplement Table 5).

    Unlike the authors' ``log(p + 1e-5)``, the logarithms here are exact, so the loss of a
    positive keeps growing (and its gradient stays near -1) for very negative logits.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, 0.0]])
    >>> round(entropy_maximization_loss(logits, targets).item(), 4)
    0.0441
    >>> pseudo = torch.tensor([[float("nan"), 0.2, float("nan")], [float("nan")] * 3])
    >>> round(entropy_maximization_loss(logits, targets, pseudo_targets=pseudo).item(), 4)
    0.1308
    """
    name = "entropy_maximization_loss"
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, ENTROPY_MAXIMIZATION_SETTINGS, alpha=alpha, beta=beta)
    if pseudo_targets is not None:
        check_soft_targets(pseudo_targets, logits, name=name, what="pseudo_targets")
        if not bool(torch.isnan(pseudo_targets).logical_or_(targets == -1).all()):
            on_known = int((~torch.isnan(pseudo_targets) & (targets != -1)).sum())
            raise ValueError(f"{name}: pseudo_targets must be NaN on known entries (targets 1 "
                             f"or 0); found a pseudo-target on {on_known} known entries")
    gradient = _entropy_regularised_gradient(targets, pseudo_targets, -alpha, beta)
    return closed_form_loss(_entropy_regularised_kernel(-alpha, beta), gradient, x, targets, pseudo_targets,
                            reduction=reduction)


def apl_pseudo_labels(probs: torch.Tensor, targets: torch.Tensor, pseudo_targets: torch.Tensor,
                      initial_unknown_per_class: torch.Tensor | Sequence[int], epoch: int,
                      warmup_epochs: int, total_epochs: int, theta: float = 0.9,
                      positive_theta: float = 0.0, hard: bool = False, return_selection: bool = False):
    r"""One APL step (EM paper, asymmetric pseudo-labelling): the new ``pseudo_targets``.

    Called after each epoch with probabilities from the model in eval mode, over the whole
    training set (``[N, C]``). When ``epoch >= warmup_epochs`` (T_w), for each class c, among
    entries still unknown (target -1) and without a pseudo-label, the
    :math:`\lfloor \theta\, U_c / (E - T_w) \rfloor` with the lowest probability (``U_c`` =
    ``initial_unknown_per_class[c]``, E = ``total_epochs``; ties broken by row order) get the
    soft negative target s = p, their current probability. Existing pseudo-labels are never
    revised, known entries are never touched. Before the warm-up a copy of ``pseudo_targets``
    is returned. NaN means "no pseudo-label". The inputs are not modified.

    Two variants answer the questions of the supplement's Sec. D and are off by default (APL
    as published): ``hard`` gives the target 0 instead of p (Q2), and ``positive_theta`` adds
    "similar positive pseudo-labelling" (Q4, Table 6): the
    :math:`\lfloor \theta_+ U_c / (E - T_w) \rfloor` highest-probability entries left get the
    positive target p (1 if ``hard``). With ``return_selection`` the result is
    ``(pseudo_targets, negative, positive)``, the bool masks of the entries this step labelled.

    >>> probs = torch.tensor([[0.9, 0.1], [0.2, 0.4], [0.3, 0.05]])
    >>> targets = torch.tensor([[1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
    >>> none = torch.full((3, 2), float("nan"))
    >>> apl_pseudo_labels(probs, targets, none, [2, 2], epoch=2, warmup_epochs=2,
    ...                   total_epochs=3, theta=0.5)
    tensor([[   nan, 0.1000],
            [0.2000,    nan],
            [   nan,    nan]])
    >>> apl_pseudo_labels(probs, targets, none, [2, 2], epoch=2, warmup_epochs=2,
    ...                   total_epochs=3, theta=0.5, positive_theta=0.5, hard=True)
    tensor([[nan, 0.],
            [0., 1.],
            [1., nan]])
    """
    name = "apl_pseudo_labels"
    if not isinstance(probs, torch.Tensor) or not probs.is_floating_point():
        raise ValueError(f"{name}: probs must be a floating tensor")
    if probs.dim() != 2 or not isinstance(targets, torch.Tensor) or targets.shape != probs.shape:
        got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"{name}: probs must have shape [N, C] matching targets, got "
                         f"{tuple(probs.shape)} and {got}")
    check_logits_targets(probs, targets, name=name)
    if bool(((probs < 0) | (probs > 1) | probs.isnan()).any()):
        raise ValueError(f"{name}: probs must lie in [0, 1]")
    if not isinstance(pseudo_targets, torch.Tensor):
        raise ValueError(f"{name}: pseudo_targets must be a tensor (NaN = no pseudo-label)")
    check_soft_targets(pseudo_targets, probs, name=name, what="pseudo_targets")
    free = torch.isnan(pseudo_targets)
    if bool((~free & (targets != -1)).any()):
        raise ValueError(f"{name}: pseudo_targets must be NaN on known entries (targets 1 or 0)")
    counts = torch.as_tensor(initial_unknown_per_class).flatten()
    if counts.numel() != probs.shape[1] or bool((counts < 0).any()):
        raise ValueError(f"{name}: initial_unknown_per_class must hold {probs.shape[1]} "
                         f"non-negative counts, got {counts.tolist()}")
    for value, what in ((epoch, "epoch"), (warmup_epochs, "warmup_epochs"),
                        (total_epochs, "total_epochs")):
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: {what} must be a non-negative int, got {value!r}")
    if total_epochs <= warmup_epochs:
        raise ValueError(f"{name}: total_epochs ({total_epochs}) must exceed warmup_epochs "
                         f"({warmup_epochs})")
    check_unit_interval(theta, "theta", name=name)
    check_unit_interval(positive_theta, "positive_theta", name=name)
    if not isinstance(hard, bool):
        raise ValueError(f"{name}: hard must be a bool, got {hard!r}")

    updated = pseudo_targets.clone()
    negative = torch.zeros_like(free)
    positive = torch.zeros_like(free)
    if epoch >= warmup_epochs:
        candidates = free & (targets == -1)
        negative = _lowest_per_class(probs, candidates, counts, theta, total_epochs - warmup_epochs)
        positive = _lowest_per_class(-probs, candidates & ~negative, counts, positive_theta,
                                     total_epochs - warmup_epochs)
        soft = probs.to(updated.dtype)
        updated[negative] = 0.0 if hard else soft[negative]
        updated[positive] = 1.0 if hard else soft[positive]
    return (updated, negative, positive) if return_selection else updated


def _lowest_per_class(scores: torch.Tensor, candidates: torch.Tensor, counts: torch.Tensor,
                      proportion: float, steps: int) -> torch.Tensor:
    """Mask of the int(proportion * counts[c] / steps) candidates of each column c with the
    lowest score (ties broken by row order; capped at the number of candidates)."""
    quota = torch.tensor([int(proportion * u / steps) for u in counts.tolist()], device=scores.device)
    ranked = scores.masked_fill(~candidates, math.inf)  # non-candidates sort last
    order = ranked.argsort(dim=0, stable=True)
    rank = torch.arange(scores.shape[0], device=scores.device).unsqueeze(1)
    take = rank < torch.minimum(quota, candidates.sum(dim=0)).unsqueeze(0)
    return torch.zeros_like(candidates).scatter_(0, order, take)


def _check_rate_or_threshold(rate, threshold, name: str) -> None:
    if (rate is None) == (threshold is None):
        raise ValueError(f"{name}: give exactly one of rate (relative: a fraction of B * C) and "
                         f"threshold (absolute loss value); got rate={rate!r}, "
                         f"threshold={threshold!r}")
    check_settings(name, LARGE_LOSS_SETTINGS, rate=rate, threshold=threshold)


#: between the known entries' ranked value (-1) and the smallest AN loss (0)
BELOW_EVERY_LOSS = -0.5


class _AssumeNegativePass(NamedTuple):
    """One pass of AN over the logits: what Large Loss ranks and what its loss and gradient start from."""

    ranked: torch.Tensor  #: per-entry AN loss (>= 0) on unknown entries, -1 on known ones (they never rank)
    known_loss_sum: torch.Tensor  #: sum of the known entries' AN losses (float64)
    grad: torch.Tensor | None  #: AN gradient sigmoid(x) - y, when asked for
    losses: torch.Tensor | None  #: per-entry AN losses, when asked for


def _assume_negative_pass(x: torch.Tensor, targets: torch.Tensor, need_grad: bool = False,
                          keep_losses: bool = False) -> _AssumeNegativePass:
    """AN losses ``(1 - y) x - log sigmoid(x)`` (y = 1 on known positives, else 0): ranked, the
    known entries' sum, and optionally the AN gradient and the per-entry losses. One pass over
    blocks of rows, written straight into the full outputs. The one definition shared by
    :func:`large_loss` and the trainer's :func:`large_loss_selection`."""
    x = x.detach()
    ranked = torch.empty_like(x)
    grad = torch.empty_like(x) if need_grad else None
    losses = torch.empty_like(x) if keep_losses else None
    known_sum = x.new_zeros((), dtype=torch.float64)
    with torch.no_grad():
        for part in row_blocks(x):
            xb = x[part]
            t = targets[part].to(x.dtype)
            positive = t.clamp_min(0)
            unknown = positive - t  # 1 where t = -1, 0 elsewhere
            minus_known = unknown - 1  # -1 on known entries, 0 on unknown ones
            block_losses = torch.addcmul(xb, xb, positive, value=-1,
                                         out=None if losses is None else losses[part]).sub_(F.logsigmoid(xb))
            known_sum -= torch.dot(block_losses.reshape(-1), minus_known.reshape(-1))
            # the loss on unknown entries, -1 on known ones (AN losses are >= 0, so -1 ranks below
            # every unknown entry): arithmetic, because boolean masks (torch.where, masked_fill)
            # are several times slower on CPU
            torch.addcmul(minus_known, block_losses, unknown, out=ranked[part])
            if need_grad:
                torch.sigmoid(xb, out=grad[part]).sub_(positive)
    return _AssumeNegativePass(ranked, known_sum, grad, losses)


def _kth_largest_unknown_loss(ranked: torch.Tensor, rate: float):
    """The k-th largest unknown loss, k = min(ceil(rate * B * C), number of unknown entries);
    None when k = 0. The unknown entries are those whose ranked loss is not negative (the
    known ones are -1; a NaN counts as unknown)."""
    wanted = math.ceil(rate * ranked.numel())
    if ranked.device.type == "cpu":  # numpy's vectorised sort beats torch's CPU selection
        values = np.sort(ranked.reshape(-1).numpy())
        # the needle in the array's own dtype: a float64 one would make numpy convert the whole array
        k = min(wanted, values.size - int(np.searchsorted(values, values.dtype.type(BELOW_EVERY_LOSS))))
        return float(values[values.size - k]) if k else None
    k = min(wanted, ranked.numel() - int((ranked < 0).sum()))
    return float(ranked.reshape(-1).kthvalue(ranked.numel() - k + 1).values) if k else None


class _Cut(NamedTuple):
    """Where Large Loss cuts the ranked losses: an entry is selected when its ranked loss is
    ``>= value`` (relative: the k-th largest; ties included) or ``> value`` (absolute)."""

    value: float
    strict: bool

    def selected(self, ranked: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the selected entries."""
        return ranked > self.value if self.strict else ranked >= self.value

    def selected_float(self, ranked: torch.Tensor) -> torch.Tensor:
        """1.0 on the selected entries, 0.0 elsewhere, in arithmetic: comparisons into boolean
        tensors, and the masks made from them, are several times slower on CPU."""
        side = torch.sub(ranked, self.value).sign_()  # +1 above the cut, 0 on it, -1 below (known: -1)
        return side.clamp_min_(0) if self.strict else side.add_(1).clamp_max_(1)

    def kept_float(self, ranked: torch.Tensor) -> torch.Tensor:
        """``1 - selected_float(ranked)``, in as many operations."""
        side = torch.rsub(ranked, self.value).sign_()  # +1 below the cut (known too), 0 on it, -1 above
        return side.add_(1).clamp_max_(1) if self.strict else side.clamp_min_(0)


def _large_loss_selection(x: torch.Tensor, targets: torch.Tensor, rate: float | None, threshold: float | None):
    """Boolean mask of the selected unknown entries, or None when none is."""
    if threshold is None and rate == 0:
        return None
    an = _assume_negative_pass(x, targets)
    cut = _cut(an.ranked, rate, threshold)
    return None if cut is None else cut.selected(an.ranked)


def _cut(ranked: torch.Tensor, rate: float | None, threshold: float | None) -> _Cut | None:
    """The one ranking of Large Loss: where it cuts the ranked losses (None: nothing selected,
    rate 0 or k = 0)."""
    if threshold is not None:  # a negative threshold selects every unknown entry, as this one does
        return _Cut(max(threshold, BELOW_EVERY_LOSS), strict=True)
    if rate == 0:
        return None
    value = _kth_largest_unknown_loss(ranked, rate)
    return None if value is None else _Cut(value, strict=False)


class _LargeLossGradient(NamedTuple):
    """Large Loss's local gradient computed again from the logits, for backward passes after
    the first (the selection is recomputed, not kept)."""

    scheme: str
    rate: float | None
    threshold: float | None
    targets: torch.Tensor

    def gradient(self, x: torch.Tensor) -> torch.Tensor:
        """In differentiable operations, for second derivatives."""
        grad = torch.sigmoid(x) - self.targets.clamp_min(0).to(x.dtype)
        selected = _large_loss_selection(x.detach(), self.targets, self.rate, self.threshold)
        if selected is None:
            return grad
        selected = selected.to(x.dtype)
        return grad * (1 - selected) if self.scheme == "LL-R" else grad - selected

    def local_gradient(self, x: torch.Tensor, scale: float | None) -> torch.Tensor:
        """As the forward pass computed it, times ``scale``: the same passes, so the same numbers."""
        an = _assume_negative_pass(x, self.targets, need_grad=True)
        _apply_cut(x, an, _cut(an.ranked, self.rate, self.threshold), self.scheme, grad_scale=scale)
        return an.grad


def large_loss_selection(logits: torch.Tensor, targets: torch.Tensor, rate: float | None = None,
                         threshold: float | None = None) -> torch.Tensor:
    r"""Boolean ``[B, C]`` mask of the unknown entries that Large Loss modifies.

    Relative (``rate``): the k = ceil(rate * B * C) largest AN losses among unknown entries
    (k capped at their number; every entry tied with the k-th largest is included, as the
    authors rank with ``>=``). Absolute (``threshold``): unknown entries whose AN loss exceeds
    the threshold (compared in the compute dtype). Give exactly one. Known entries are never
    selected. A training step that needs the loss too takes both from one ranking with
    :func:`large_loss_with_selection`.

    >>> logits = torch.tensor([[3.0, -1.0, 0.5], [2.0, 1.5, -2.0]])
    >>> targets = torch.tensor([[-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])
    >>> large_loss_selection(logits, targets, rate=0.2)
    tensor([[ True, False, False],
            [ True, False, False]])
    """
    name = "large_loss_selection"
    check_logits_targets(logits, targets, name=name)
    _check_rate_or_threshold(rate, threshold, name)
    selected = _large_loss_selection(logits.detach().to(compute_dtype(logits)), targets, rate, threshold)
    return torch.zeros(logits.shape, dtype=torch.bool, device=logits.device) if selected is None else selected


def _apply_cut(x: torch.Tensor, an: _AssumeNegativePass, cut: _Cut | None, scheme: str,
               grad_scale: float | None = None) -> torch.Tensor:
    """Large Loss from one AN pass and its cut: block by block, the unknown entries' losses are
    summed as modified (rejected: 0; corrected: ``softplus(x) - x``) and their AN gradient and
    per-entry losses (where kept) are rejected or corrected in place, the gradient then
    multiplied by ``grad_scale`` (while the block is in cache). Returns the loss sum,
    accumulated in float64 from the modified entries (never as a difference of large sums)."""
    flip = scheme != "LL-R"  # LL-Ct / LL-Cp: target 0 -> 1 turns softplus(x) into softplus(x) - x
    total = an.known_loss_sum.clone()
    for part in row_blocks(x):
        ranked, logits = an.ranked[part], x[part]
        grad = None if an.grad is None else an.grad[part]
        unknown_losses = ranked.clamp_min(0)  # AN losses are >= 0; the known entries' -1 becomes 0
        if cut is None:
            total += unknown_losses.sum()
        elif flip:  # entry by entry, softplus(x) - x, then summed (no cancellation between sums)
            selected = cut.selected_float(ranked)
            total += torch.addcmul(unknown_losses, logits, selected, value=-1).sum()
            if grad is not None:  # the gradient of softplus(-x) is sigmoid(x) - 1
                grad.sub_(selected)
            if an.losses is not None:
                an.losses[part].addcmul_(logits, selected, value=-1)
        else:  # a rejected entry has no loss and no gradient
            kept = cut.kept_float(ranked)
            total += torch.dot(unknown_losses.reshape(-1), kept.reshape(-1))
            if an.losses is not None:
                an.losses[part].mul_(kept)
            if grad is not None:  # the scale folded into the mask
                grad.mul_(kept if grad_scale is None else kept.mul_(grad_scale))
        if grad is not None and grad_scale is not None and (cut is None or flip):
            grad.mul_(grad_scale)
    return total


class _LargeLoss(torch.autograd.Function):
    """Large Loss from one AN pass (:func:`_assume_negative_pass`) and its cut
    (:func:`_apply_cut`), which also multiplies the gradient by the reduction's scale. Backward
    hands that gradient over (:func:`~mlteach.losses._checks.handed_over_gradient`); a second
    backward through a kept graph computes it again from the logits, the same way. (A kernel of :func:`closed_form_loss` would see each block once, before the cut
    is known.) Second derivatives: the differentiable ``gradient``."""

    @staticmethod
    def forward(ctx, x, an, cut, scheme, scale, recompute):
        total = _apply_cut(x, an, cut, scheme, grad_scale=scale)
        result = an.losses if scale is None else total.mul_(scale).to(x.dtype)
        ctx.scale, ctx.recompute, ctx.local_grad = scale, recompute, an.grad
        ctx.save_for_backward(x)
        return result

    @staticmethod
    def backward(ctx, grad_result):
        grad = handed_over_gradient(ctx, grad_result, ctx.recompute.gradient,
                                    lambda x: ctx.recompute.local_gradient(x, ctx.scale))
        return grad, None, None, None, None, None


def _large_loss(logits, targets, rate, scheme, reduction, threshold, name, want_selection=False):
    """``(loss, selection or None)``: AN per entry, with the selected entries rejected or
    corrected, from one AN pass and one cut (the boolean selection is built only when
    ``want_selection``)."""
    x = _prepare(logits, targets, reduction, name)
    check_settings(name, LARGE_LOSS_SETTINGS, scheme=scheme)
    _check_rate_or_threshold(rate, threshold, name)
    an = _assume_negative_pass(x, targets, need_grad=x.requires_grad, keep_losses=reduction == "none")
    cut = _cut(an.ranked, rate, threshold)
    scale = None if reduction == "none" else 1.0 if reduction == "sum" else 1.0 / x.numel()
    recompute = _LargeLossGradient(scheme, rate, threshold, targets.detach())
    loss = _LargeLoss.apply(x, an, cut, scheme, scale, recompute)
    return loss, None if cut is None or not want_selection else cut.selected(an.ranked)


def large_loss(logits: torch.Tensor, targets: torch.Tensor, rate: float | None = None,
               scheme: str = "LL-R", reduction: str = "mean",
               threshold: float | None = None) -> torch.Tensor:
    r"""Large Loss Matters (Kim et al., CVPR 2022): AN with its largest unknown losses modified.

    Per entry, the AN loss :math:`\ell = -y\log\sigma(x) - (1-y)\log\sigma(-x)` (unknown read
    as 0). The unknown entries chosen by :func:`large_loss_selection` (``rate`` or ``threshold``,
    exactly one) are

    - ``"LL-R"``: rejected: their loss is set to 0 but they stay in the ``B * C`` denominator;
    - ``"LL-Ct"``: corrected for this step: target flipped to 1, loss :math:`-\log\sigma(x)`;
    - ``"LL-Cp"``: as LL-Ct in this loss; the permanent relabelling is the trainer's (it takes
      the selection from :func:`large_loss_with_selection` and sets those targets to 1 for the
      rest of training).

    Known positives and negatives are never modified. Schedules: :func:`large_loss_rate`
    (relative), :func:`large_loss_threshold` (absolute variant, supplement Sec. B).
    ``"mean"`` divides by ``B * C``. The selection itself is not differentiated.

    >>> logits = torch.tensor([[3.0, -1.0, 0.5], [2.0, 1.5, -2.0]])
    >>> targets = torch.tensor([[-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])
    >>> round(large_loss(logits, targets, rate=0.0).item(), 4)  # plain AN
    1.0485
    >>> round(large_loss(logits, targets, rate=0.2, scheme="LL-R").item(), 4)
    0.1859
    >>> round(large_loss(logits, targets, rate=0.2, scheme="LL-Ct").item(), 4)
    0.2152
    """
    return _large_loss(logits, targets, rate, scheme, reduction, threshold, "large_loss")[0]


def large_loss_with_selection(logits: torch.Tensor, targets: torch.Tensor, rate: float | None = None,
                              scheme: str = "LL-R", reduction: str = "mean",
                              threshold: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(large_loss(...), large_loss_selection(...))`` from one ranking of the losses: what a
    training step needs (the loss, and the entries it rejected or corrected, which LL-Cp relabels
    for good). Same arguments as :func:`large_loss`.

    >>> logits = torch.tensor([[3.0, -1.0, 0.5], [2.0, 1.5, -2.0]])
    >>> targets = torch.tensor([[-1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]])
    >>> loss, selected = large_loss_with_selection(logits, targets, rate=0.2)
    >>> round(loss.item(), 4), selected.sum().item()
    (0.1859, 2)
    """
    loss, selected = _large_loss(logits, targets, rate, scheme, reduction, threshold, "large_loss_with_selection",
                                   want_selection=True)
    if selected is None:
        selected = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)
    return loss, selected


def large_loss_rate(epoch: int, delta_rel: float, scheme: str = "LL-R") -> float:
    """Relative Large Loss schedule: the rate at (1-based) ``epoch``.

    LL-R and LL-Ct: ``(epoch - 1) * delta_rel`` (epoch 1 is plain AN), capped at 1;
    LL-Cp: ``delta_rel`` every epoch.

    >>> [large_loss_rate(t, 0.2) for t in (1, 2, 3)]
    [0.0, 0.2, 0.4]
    >>> large_loss_rate(3, 0.2, scheme="LL-Cp")
    0.2
    """
    name = "large_loss_rate"
    if not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"{name}: epoch must be an int >= 1 (1-based), got {epoch!r}")
    check_unit_interval(delta_rel, "delta_rel", name=name)
    check_choice(scheme, LARGE_LOSS_SCHEMES, "scheme", name=name)
    if scheme == "LL-Cp":
        return delta_rel
    return min((epoch - 1) * delta_rel, 1.0)


def large_loss_threshold(epoch: int, r0: float, delta_abs: float) -> float:
    """Absolute Large Loss schedule (supplement Sec. B): R(t) = R0 - t * delta_abs.

    >>> large_loss_threshold(2, r0=1.5, delta_abs=0.1)
    1.3
    """
    name = "large_loss_threshold"
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"{name}: epoch must be a non-negative int, got {epoch!r}")
    check_number(r0, "r0", REAL, name=name)
    check_nonnegative(delta_abs, "delta_abs", name=name)
    return r0 - epoch * delta_abs


class AssumeNegativeLoss(nn.Module):
    """Module form of :func:`assume_negative_loss`."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, REDUCTION_SETTINGS, reduction=reduction)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return assume_negative_loss(logits, targets, reduction=self.reduction)


class DownWeightLoss(nn.Module):
    """Module form of :func:`down_weight_loss`."""

    def __init__(self, assumed_negative_weight: float = 0.1, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, DOWN_WEIGHT_SETTINGS,
                       assumed_negative_weight=assumed_negative_weight, reduction=reduction)
        self.assumed_negative_weight, self.reduction = assumed_negative_weight, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return down_weight_loss(logits, targets, self.assumed_negative_weight, self.reduction)


class LabelSmoothingLoss(nn.Module):
    """Module form of :func:`label_smoothing_loss`."""

    def __init__(self, smoothing: float = 0.1, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, SMOOTHING_SETTINGS, smoothing=smoothing, reduction=reduction)
        self.smoothing, self.reduction = smoothing, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return label_smoothing_loss(logits, targets, self.smoothing, self.reduction)


class NegativeLabelSmoothingLoss(nn.Module):
    """Module form of :func:`negative_label_smoothing_loss`."""

    def __init__(self, smoothing: float = 0.1, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, SMOOTHING_SETTINGS, smoothing=smoothing, reduction=reduction)
        self.smoothing, self.reduction = smoothing, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return negative_label_smoothing_loss(logits, targets, self.smoothing, self.reduction)


class EntropyMinimizationLoss(nn.Module):
    """Module form of :func:`entropy_minimization_loss`."""

    def __init__(self, alpha: float = 0.9, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, ENTROPY_MINIMIZATION_SETTINGS, alpha=alpha, reduction=reduction)
        self.alpha, self.reduction = alpha, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return entropy_minimization_loss(logits, targets, self.alpha, self.reduction)


class EntropyMaximizationLoss(nn.Module):
    """Module form of :func:`entropy_maximization_loss`; APL pseudo-targets go to ``forward``."""

    def __init__(self, alpha: float = 0.1, beta: float = 0.9, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, ENTROPY_MAXIMIZATION_SETTINGS, alpha=alpha, beta=beta, reduction=reduction)
        self.alpha, self.beta, self.reduction = alpha, beta, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor,
                pseudo_targets: torch.Tensor | None = None) -> torch.Tensor:
        return entropy_maximization_loss(logits, targets, alpha=self.alpha,
                                         pseudo_targets=pseudo_targets, beta=self.beta,
                                         reduction=self.reduction)


class LargeLoss(nn.Module):
    """Module form of :func:`large_loss`. The trainer updates ``rate`` (or ``threshold``) each
    epoch, e.g. ``loss_fn.rate = large_loss_rate(epoch, delta_rel, loss_fn.scheme)``."""

    def __init__(self, rate: float | None = None, scheme: str = "LL-R", reduction: str = "mean",
                 threshold: float | None = None):
        super().__init__()
        check_settings(type(self).__name__, LARGE_LOSS_SETTINGS, rate=rate, scheme=scheme, reduction=reduction,
                       threshold=threshold)
        self.rate, self.scheme, self.reduction, self.threshold = rate, scheme, reduction, threshold

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return large_loss(logits, targets, rate=self.rate, scheme=self.scheme,
                          reduction=self.reduction, threshold=self.threshold)
