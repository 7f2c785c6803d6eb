"""Long-tail baselines of the DR paper's Table 1: RW, CB focal, LDAM and BalPoE.

Each is binary cross-entropy per entry (class c of sample i), changed by the training class
counts n_c: RW and CB focal weight the terms of class c, LDAM moves the boundary of the
positives of rare classes, BalPoE trains several experts whose logits are shifted by the
class prior. Like the other BCE-family baselines (:mod:`~mlteach.losses.balanced`), they know
positives and negatives only: an unknown target (-1) counts as a negative. Every loss here is a
sum of per-entry terms, and ``reduction="mean"`` divides by the number of entries (``B * C``;
``E * B * C`` for BalPoE's E experts).

Every logarithm is an exact log-sigmoid (``F.binary_cross_entropy_with_logits`` or
``F.logsigmoid``), so the losses and their gradients are finite for any finite logits;
float16 / bfloat16 logits are computed and returned in float32. The per-class weights, margins
and shifts are computed in float64 from the counts and are constants (no gradient). A function
and its module twin check their settings with one shared rules dict; the twin checks them, the
class counts included, at construction. NaN logits give NaN losses.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    NONNEGATIVE,
    POSITIVE,
    REDUCTIONS,
    Range,
    check_logits_targets,
    check_number,
    check_settings,
    closed_form_loss,
    compute_dtype,
)
from .balanced import focal_gradient, focal_terms

__all__ = [
    "reweighted_bce_loss",
    "class_balanced_focal_loss",
    "ldam_loss",
    "balpoe_loss",
    "ReweightedBCELoss",
    "ClassBalancedFocalLoss",
    "LDAMLoss",
    "BalPoELoss",
    "inverse_sqrt_frequency_weights",
    "class_balanced_weights",
    "ldam_margins",
    "log_prior_odds",
    "balpoe_prediction",
]

REWEIGHTED_BCE_SETTINGS = {"reduction": REDUCTIONS}
CLASS_BALANCED_FOCAL_SETTINGS = {"beta": Range(0, 1, True, False), "gamma": NONNEGATIVE, "reduction": REDUCTIONS}
LDAM_SETTINGS = {"max_margin": NONNEGATIVE, "reduction": REDUCTIONS}
BALPOE_SETTINGS = {"reduction": REDUCTIONS}


# ----------------------------------------------------------------------------- class statistics

def _counts(class_counts, num_classes: int | None, *, name: str) -> torch.Tensor:
    """The class counts as a float64 vector (of ``num_classes`` entries when given), each a
    finite number > 0; ``ValueError`` otherwise."""
    try:
        counts = torch.as_tensor(class_counts, dtype=torch.float64).detach()
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{name}: class_counts must be a vector of numbers, got {class_counts!r}") from error
    expected = "" if num_classes is None else f"{num_classes} "
    if counts.dim() != 1 or counts.numel() == 0 or (num_classes is not None and counts.numel() != num_classes):
        raise ValueError(f"{name}: class_counts must be a vector of {expected}counts, "
                         f"got shape {tuple(counts.shape)}")
    low, high = torch.aminmax(counts)  # NaN propagates, and fails both tests
    if not (low.item() > 0 and high.item() < math.inf):
        raise ValueError(f"{name}: every class count n_c must be a finite number > 0; got {counts.tolist()}")
    return counts


def inverse_sqrt_frequency_weights(class_counts, *, name: str = "inverse_sqrt_frequency_weights") -> torch.Tensor:
    r"""RW's per-class weights :math:`w_c = n_c^{-1/2} / \bar w`, scaled to a mean of 1 over the
    classes (float64, ``[C]``). The class frequency :math:`n_c / N` gives the same weights: the
    scale removes N.

    >>> inverse_sqrt_frequency_weights([100, 25, 4]).tolist()
    [0.375, 0.75, 1.875]
    """
    inverse_root = _counts(class_counts, None, name=name).rsqrt()
    return inverse_root / inverse_root.mean()


def class_balanced_weights(class_counts, beta: float, *, name: str = "class_balanced_weights") -> torch.Tensor:
    r"""Class-balanced weights (Cui et al., CVPR 2019): the inverse effective number of samples
    :math:`w_c \propto (1 - \beta) / (1 - \beta^{n_c})`, normalised as Cui et al. do, so that
    :math:`\sum_c w_c = C` (float64, ``[C]``). ``beta = 0`` gives equal weights; as ``beta``
    tends to 1 the weights tend to the inverse class frequency.

    >>> [round(w, 4) for w in class_balanced_weights([100, 10], beta=0.9).tolist()]
    [0.7889, 1.2111]
    """
    check_number(beta, "beta", CLASS_BALANCED_FOCAL_SETTINGS["beta"], name=name)
    counts = _counts(class_counts, None, name=name)
    # 1 - beta^n = -expm1(n log beta), exact for beta near 1; beta = 0 gives log 0 = -inf and 1
    effective = -torch.expm1(counts * math.log(beta)) if beta > 0 else torch.ones_like(counts)
    weights = (1 - beta) / effective
    return weights * (counts.numel() / weights.sum())


def ldam_margins(class_counts, max_margin: float, *, name: str = "ldam_margins") -> torch.Tensor:
    r"""LDAM's margins :math:`\Delta_c = K n_c^{-1/4}` (Cao et al., NeurIPS 2019), with the
    constant K chosen, as in the authors' code, so that the rarest class gets ``max_margin``:
    :math:`\Delta_c = \text{max\_margin}\,(\min_j n_j / n_c)^{1/4}` (float64, ``[C]``).

    >>> ldam_margins([16, 1], max_margin=0.5).tolist()
    [0.25, 0.5]
    """
    check_number(max_margin, "max_margin", LDAM_SETTINGS["max_margin"], name=name)
    counts = _counts(class_counts, None, name=name)
    return max_margin * (counts.min() / counts).pow(0.25)


def log_prior_odds(class_counts, num_samples: float, *, name: str = "log_prior_odds") -> torch.Tensor:
    r"""The log prior odds of each class, :math:`b_c = \log(\pi_c / (1 - \pi_c))` with
    :math:`\pi_c = n_c / N` (float64, ``[C]``): BalPoE's shift for binary (per-class) logits.
    Every count must satisfy :math:`0 < n_c < N`.

    >>> [round(b, 4) for b in log_prior_odds([50, 10], num_samples=100).tolist()]  # log 1, log(10 / 90)
    [0.0, -2.1972]
    """
    check_number(num_samples, "num_samples", POSITIVE, name=name)
    counts = _counts(class_counts, None, name=name)
    if not bool((counts < num_samples).all()):
        raise ValueError(f"{name}: every class count n_c must satisfy 0 < n_c < num_samples = {num_samples} "
                         f"(n_c = N makes the log odds infinite); got {counts.tolist()}")
    return torch.log(counts) - torch.log(num_samples - counts)


def _per_class(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(device=like.device, dtype=like.dtype)


def _check_class_count(vector: torch.Tensor, num_classes: int, *, name: str) -> None:
    if vector.numel() != num_classes:
        raise ValueError(f"{name}: class_counts must be a vector of {num_classes} counts, "
                         f"got shape {tuple(vector.shape)}")


def _positive_indicator(targets: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """1.0 on known positives, 0.0 elsewhere: unknown (-1) entries count as negatives; the labels
    carry no gradient."""
    return targets.detach().clamp(min=0).to(dtype)


# ----------------------------------------------------------------------------- RW

def reweighted_bce_loss(logits: torch.Tensor, targets: torch.Tensor, class_counts: torch.Tensor | Sequence[float],
                        reduction: str = "mean") -> torch.Tensor:
    r"""RW: binary cross-entropy re-weighted per class by the inverse square root of the class
    frequency (the "RW" row of the DR paper's Table 1, Sec. 4.2).

    .. math:: \ell_{ic} = w_c \bigl(\operatorname{softplus}(x_{ic}) - y_{ic} x_{ic}\bigr), \qquad
              w_c = \frac{n_c^{-1/2}}{\frac1C \sum_j n_j^{-1/2}},

    the same weight on the positive and negative terms of class c
    (:func:`inverse_sqrt_frequency_weights`). The DR paper gives the rule in words only; the
    weights are scaled to a mean of 1 so that the loss keeps BCE's scale (the DB authors' code,
    whose RW numbers the DR paper cites, uses :math:`\sqrt{N / n_c}`, the same weights times a
    constant: a different learning rate). Unknown targets count as negatives; ``"mean"`` divides
    by ``B * C``; ``"none"`` returns the ``[B, C]`` terms.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> round(reweighted_bce_loss(logits, targets, class_counts=[100, 25, 4]).item(), 4)
    0.446
    """
    name = "reweighted_bce_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, REWEIGHTED_BCE_SETTINGS, reduction=reduction)
    weights = inverse_sqrt_frequency_weights(class_counts, name=name)
    _check_class_count(weights, logits.shape[1], name=name)
    x = logits.to(compute_dtype(logits))
    return F.binary_cross_entropy_with_logits(x, _positive_indicator(targets, x.dtype),
                                              weight=_per_class(weights, x), reduction=reduction)


# ----------------------------------------------------------------------------- CB focal

def class_balanced_focal_loss(logits: torch.Tensor, targets: torch.Tensor,
                              class_counts: torch.Tensor | Sequence[float], beta: float = 0.9999,
                              gamma: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    r"""CB focal: the sigmoid focal loss weighted per class by the inverse effective number of
    samples (Cui et al., CVPR 2019, Sec. 4: class-balanced focal loss; "CB Focal" in the DR
    paper's Table 1).

    With :math:`z_{ic} = x_{ic}` on positives and :math:`-x_{ic}` on negatives,

    .. math:: \ell_{ic} = -w_c\, \sigma(-z_{ic})^{\gamma} \log \sigma(z_{ic}), \qquad
              w_c = \frac{C\, (1-\beta)/(1-\beta^{n_c})}{\sum_j (1-\beta)/(1-\beta^{n_j})}

    (:func:`class_balanced_weights`), computed in log space as
    :math:`-w_c\, e^{\gamma \log\sigma(-z)} \log\sigma(z)`; the focusing factor is
    differentiated (not detached). Cui et al.'s sigmoid form weights all C binary terms of a
    sample by the weight of its single label; in this multi-label form each class's terms get
    that class's weight. ``beta = 0`` is the plain focal loss, ``gamma = 0`` class-balanced BCE.
    Defaults: ``beta = 0.9999`` (the value of the LDAM and BalPoE authors' code),
    ``gamma = 2``. Unknown targets count as negatives; ``"mean"`` divides by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> round(class_balanced_focal_loss(logits, targets, class_counts=[100, 25, 4]).item(), 4)
    0.1611
    """
    name = "class_balanced_focal_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, CLASS_BALANCED_FOCAL_SETTINGS, beta=beta, gamma=gamma, reduction=reduction)
    weights = class_balanced_weights(class_counts, beta, name=name)
    _check_class_count(weights, logits.shape[1], name=name)
    x = logits.to(compute_dtype(logits))
    weights = _per_class(weights, x)

    def kernel(x, targets, need_grad):  # the focal loss's terms and closed-form gradient, times w_c
        flip = torch.rsub(targets, 0.5).sign_()  # -1 on positives, +1 on negatives: minus the margin is flip x
        values, d_flipped = focal_terms(x * flip, gamma, need_grad)
        if d_flipped is not None:
            d_flipped.mul_(flip).mul_(weights)
        return values.mul_(weights), d_flipped

    def gradient(x):
        sign = 2 * _positive_indicator(targets, x.dtype) - 1  # the margin: +x on positives, -x on negatives
        return focal_gradient(x * sign, gamma) * sign * weights

    return closed_form_loss(kernel, gradient, x, targets, reduction=reduction)


# ----------------------------------------------------------------------------- LDAM

def ldam_loss(logits: torch.Tensor, targets: torch.Tensor, class_counts: torch.Tensor | Sequence[float],
              max_margin: float = 0.5, reduction: str = "mean") -> torch.Tensor:
    r"""LDAM, label-distribution-aware margins (Cao et al., NeurIPS 2019, Sec. 3.2), in a
    binary per-class form for multi-label data ("LDAM" in the DR paper's Table 1).

    Cao et al. subtract the margin :math:`\Delta_y = K n_y^{-1/4}` from the true class's logit
    inside a softmax cross-entropy. Here each class is its own binary problem, and the margin
    of class c is subtracted from the logits of its *positives* only:

    .. math:: \ell_{ic} = \operatorname{BCE}(x_{ic} - y_{ic}\Delta_c,\; y_{ic})
              = \begin{cases} \operatorname{softplus}(-(x_{ic} - \Delta_c)) & y_{ic} = 1 \\
                              \operatorname{softplus}(x_{ic}) & y_{ic} = 0, \end{cases}

    so a positive of a rare class must clear a larger margin before its loss fades; negatives
    are plain BCE. :math:`\Delta_c = \text{max\_margin}\,(\min_j n_j / n_c)^{1/4}`
    (:func:`ldam_margins`; the rarest class gets ``max_margin``, as in the authors' code).
    The authors apply ``max_margin = 0.5`` to cosine logits that are then scaled by s = 30: with
    logits of a plain linear layer, their margins in logit units are ``max_margin = 0.5 s``.
    ``max_margin = 0`` is BCE. Unknown targets count as negatives; ``"mean"`` divides by
    ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> round(ldam_loss(logits, targets, class_counts=[100, 25, 4]).item(), 4)
    0.3853
    """
    name = "ldam_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, LDAM_SETTINGS, max_margin=max_margin, reduction=reduction)
    margins = ldam_margins(class_counts, max_margin, name=name)
    _check_class_count(margins, logits.shape[1], name=name)
    x = logits.to(compute_dtype(logits))
    positive = _positive_indicator(targets, x.dtype)
    return F.binary_cross_entropy_with_logits(x - positive * _per_class(margins, x), positive, reduction=reduction)


# ----------------------------------------------------------------------------- BalPoE

def _check_taus(taus, *, name: str) -> tuple[float, ...]:
    if isinstance(taus, (str, bytes)) or not isinstance(taus, Sequence) or len(taus) == 0:
        raise ValueError(f"{name}: taus must be a non-empty sequence of numbers (one per expert), got {taus!r}")
    for tau in taus:
        if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not math.isfinite(tau):
            raise ValueError(f"{name}: taus must hold finite numbers (one per expert), got {taus!r}")
    return tuple(float(tau) for tau in taus)


def _check_experts(expert_logits, targets, taus: tuple[float, ...], *, name: str) -> None:
    if not isinstance(expert_logits, torch.Tensor) or expert_logits.dim() != 3:
        shape = tuple(expert_logits.shape) if isinstance(expert_logits, torch.Tensor) else type(expert_logits).__name__
        raise ValueError(f"{name}: expert_logits must have shape [E, B, C] (E experts), got {shape}")
    if expert_logits.shape[0] != len(taus):
        raise ValueError(f"{name}: expert_logits holds {expert_logits.shape[0]} experts but taus has "
                         f"{len(taus)} values: one tau per expert")
    check_logits_targets(expert_logits[0], targets, name=name)


def balpoe_loss(expert_logits: torch.Tensor, targets: torch.Tensor, class_counts: torch.Tensor | Sequence[float],
                num_samples: float, taus: Sequence[float] = (0.0, 1.0, 2.0), reduction: str = "mean") -> torch.Tensor:
    r"""BalPoE, a balanced product of logit-adjusted experts (Sanchez Aimar et al., CVPR 2023),
    with BCE as the base loss, as the DR paper ran it (Table 1 and its text).

    Expert e (logits :math:`z^{e}`, ``expert_logits[e]``) is trained with its logits shifted by
    :math:`\tau_e` times the class prior:

    .. math:: \ell^{e}_{ic} = \operatorname{BCE}\bigl(z^{e}_{ic} + \tau_e b_c,\; y_{ic}\bigr), \qquad
              b_c = \log\frac{\pi_c}{1 - \pi_c}, \quad \pi_c = \frac{n_c}{N},

    and the loss is the mean over the experts. The authors shift softmax logits by
    :math:`\tau_e \log \pi_c`; a sigmoid is a two-outcome softmax with logits :math:`(z, 0)` and
    priors :math:`(\pi_c, 1 - \pi_c)`, so the same rule shifts the binary logit by the log prior
    odds :math:`b_c` (:func:`log_prior_odds`). The experts' mean :math:`\bar\tau` sets the
    distribution the ensemble aims at: an expert that fits the training data has
    :math:`z^{e} \approx \operatorname{logit} - (\tau_e - 1) b`, so with :math:`\bar\tau = 1`
    (the default ``taus = (0, 1, 2)``, the authors' setting) the ensemble prediction,
    the *mean of the experts' unshifted logits* (:func:`balpoe_prediction`, as in the
    authors' code), is prior-free. Their model gives every expert its own last block and
    classifier on a shared backbone; this function takes the experts' logits as one
    ``[E, B, C]`` tensor. ``num_samples`` is N, the number of training images
    (:math:`0 < n_c < N`). Unknown targets count as negatives; ``"mean"`` divides by
    ``E * B * C``; ``"none"`` returns the ``[E, B, C]`` terms.

    >>> experts = torch.tensor([[[2.0, -1.0]], [[1.0, 0.0]], [[0.5, 0.5]]])
    >>> targets = torch.tensor([[1.0, 0.0]])
    >>> round(balpoe_loss(experts, targets, class_counts=[50, 10], num_samples=100).item(), 4)
    0.2255
    """
    name = "balpoe_loss"
    taus = _check_taus(taus, name=name)
    _check_experts(expert_logits, targets, taus, name=name)
    check_settings(name, BALPOE_SETTINGS, reduction=reduction)
    shifts = log_prior_odds(class_counts, num_samples, name=name)
    _check_class_count(shifts, expert_logits.shape[2], name=name)
    x = expert_logits.to(compute_dtype(expert_logits))
    tau = torch.tensor(taus, dtype=torch.float64).view(-1, 1, 1)
    expert_shifts = _per_class(tau * shifts, x)  # [E, 1, C]

    def kernel(x, targets, need_grad):  # BCE: the focal terms with gamma = 0 of the flipped margin
        flip = torch.rsub(targets, 0.5).sign_()  # -1 on positives, +1 on negatives and unknowns
        values, d_flipped = focal_terms(torch.add(x, expert_shifts).mul_(flip), 0.0, need_grad)
        return values, None if d_flipped is None else d_flipped.mul_(flip)

    def gradient(x):
        sign = 2 * _positive_indicator(targets, x.dtype) - 1  # the margin: +x on positives, -x on negatives
        return focal_gradient((x + expert_shifts) * sign, 0.0) * sign

    return closed_form_loss(kernel, gradient, x, targets, reduction=reduction)


def balpoe_prediction(expert_logits: torch.Tensor) -> torch.Tensor:
    """The BalPoE ensemble's ``[B, C]`` scores: the mean of the experts' unshifted logits over the
    expert axis of ``[E, B, C]`` (a product of the experts' Bernoulli distributions,
    renormalised: the geometric mean of their odds).

    >>> balpoe_prediction(torch.tensor([[[2.0, -1.0]], [[0.0, 1.0]]]))
    tensor([[1., 0.]])
    """
    if not isinstance(expert_logits, torch.Tensor) or expert_logits.dim() != 3:
        raise ValueError("balpoe_prediction: expert_logits must have shape [E, B, C] (E experts)")
    return expert_logits.mean(dim=0)


# ----------------------------------------------------------------------------- module twins

class ReweightedBCELoss(nn.Module):
    """Module form of :func:`reweighted_bce_loss`; holds the training class counts."""

    def __init__(self, class_counts: torch.Tensor | Sequence[float], reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        check_settings(name, REWEIGHTED_BCE_SETTINGS, reduction=reduction)
        self.register_buffer("class_counts", _counts(class_counts, None, name=name))
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return reweighted_bce_loss(logits, targets, self.class_counts, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"num_classes={self.class_counts.numel()}, reduction={self.reduction!r}"


class ClassBalancedFocalLoss(nn.Module):
    """Module form of :func:`class_balanced_focal_loss`; holds the training class counts."""

    def __init__(self, class_counts: torch.Tensor | Sequence[float], beta: float = 0.9999, gamma: float = 2.0,
                 reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        check_settings(name, CLASS_BALANCED_FOCAL_SETTINGS, beta=beta, gamma=gamma, reduction=reduction)
        self.register_buffer("class_counts", _counts(class_counts, None, name=name))
        self.beta, self.gamma, self.reduction = beta, gamma, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return class_balanced_focal_loss(logits, targets, self.class_counts, beta=self.beta, gamma=self.gamma,
                                         reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"num_classes={self.class_counts.numel()}, beta={self.beta}, gamma={self.gamma}, "
                f"reduction={self.reduction!r}")


class LDAMLoss(nn.Module):
    """Module form of :func:`ldam_loss`; holds the training class counts."""

    def __init__(self, class_counts: torch.Tensor | Sequence[float], max_margin: float = 0.5,
                 reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        check_settings(name, LDAM_SETTINGS, max_margin=max_margin, reduction=reduction)
        self.register_buffer("class_counts", _counts(class_counts, None, name=name))
        self.max_margin, self.reduction = max_margin, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ldam_loss(logits, targets, self.class_counts, max_margin=self.max_margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"num_classes={self.class_counts.numel()}, max_margin={self.max_margin}, reduction={self.reduction!r}"


class BalPoELoss(nn.Module):
    """Module form of :func:`balpoe_loss`; holds the class counts, N and one tau per expert.
    ``forward(expert_logits, targets)`` takes the ``[E, B, C]`` logits of the E experts."""

    def __init__(self, class_counts: torch.Tensor | Sequence[float], num_samples: float,
                 taus: Sequence[float] = (0.0, 1.0, 2.0), reduction: str = "mean"):
        super().__init__()
        name = type(self).__name__
        self.taus = _check_taus(taus, name=name)
        check_settings(name, BALPOE_SETTINGS, reduction=reduction)
        log_prior_odds(class_counts, num_samples, name=name)  # refuses n_c >= N now, not at the first forward
        self.register_buffer("class_counts", _counts(class_counts, None, name=name))
        self.num_samples, self.reduction = num_samples, reduction

    def forward(self, expert_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return balpoe_loss(expert_logits, targets, self.class_counts, self.num_samples, taus=self.taus,
                           reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"num_classes={self.class_counts.numel()}, num_samples={self.num_samples}, taus={self.taus}, "
                f"reduction={self.reduction!r}")
