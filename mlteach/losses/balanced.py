"""Focal, asymmetric (ASL) and distribution-balanced focal (DB) losses.

Baselines of the multi-label papers in this package, all built on per-entry binary
cross-entropy. They know only positives and negatives: an unknown target ``-1`` counts as a
negative (0), as in the papers' "assume negative" comparisons. Every loss here is a sum of
per-entry terms, and ``reduction="mean"`` divides by ``B * C``.

Numerics: every logarithm is an exact log-sigmoid of the logit (never ``log(p + eps)``), and
float16 / bfloat16 logits are computed and returned in float32. The gradients are written in
closed form (one forward and one backward pass instead of a chain of autograd nodes, see
:func:`~mlteach.losses._checks.closed_form_loss`); each loss also writes its gradient in
differentiable operations, used for exact second derivatives (double backward). A functional
loss and its module twin check their hyper-parameters with one shared rules dict. NaN logits
give NaN losses (torch convention).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    NONNEGATIVE,
    POSITIVE,
    REAL,
    REDUCTIONS,
    UNIT_INTERVAL,
    Maybe,
    Range,
    check_logits_targets,
    check_number,
    check_settings,
    closed_form_loss,
    compute_dtype,
)

__all__ = [
    "focal_loss",
    "asymmetric_loss",
    "distribution_balanced_loss",
    "FocalLoss",
    "AsymmetricLoss",
    "DistributionBalancedLoss",
]


FOCAL_SETTINGS = {"gamma": NONNEGATIVE, "alpha": Maybe(UNIT_INTERVAL), "reduction": REDUCTIONS}
#: eps < 1: log eps is the floor of the logarithms, and eps >= 1 would make the loss negative
ASYMMETRIC_SETTINGS = {"gamma_neg": NONNEGATIVE, "gamma_pos": NONNEGATIVE, "clip": Range(0, 1, True, False),
                       "eps": Range(0, 1, False, False), "reduction": REDUCTIONS}
DISTRIBUTION_BALANCED_SETTINGS = {"neg_scale": POSITIVE, "init_bias": REAL, "map_alpha": REAL,
                                  "map_beta": POSITIVE, "map_gamma": REAL, "focal_gamma": NONNEGATIVE,
                                  "balance_param": NONNEGATIVE, "reduction": REDUCTIONS}


def _positive_indicator(targets: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """1.0 on known positives, 0.0 elsewhere: unknown (-1) entries count as negatives."""
    return targets.clamp_min(0).to(dtype)


def _power(base: torch.Tensor, exponent: float) -> torch.Tensor | float:
    """``base ** exponent`` for ``base >= 0``, as a new tensor (a plain 1.0 when the exponent is
    0, so ``0 ** 0 = 1``). Whole exponents use repeated squaring: ``torch.pow`` is several
    times slower for exponents other than 2 and 3."""
    if exponent == 0:
        return 1.0
    if not float(exponent).is_integer():
        return base.pow(exponent)
    remaining, factor, result = int(exponent), base, None
    while remaining:
        if remaining & 1:
            if result is None:
                result = factor.clone() if factor is base else factor
            else:
                result.mul_(factor)
        remaining >>= 1
        if remaining:
            factor = factor * factor
    return result


def _differentiable_power(base: torch.Tensor, exponent: float) -> torch.Tensor | float:
    """``base ** exponent`` for ``base >= 0`` in differentiable operations, with ``0 ** 0 = 1``
    and a zero (not infinite) derivative at ``base = 0``."""
    if exponent == 0:
        return 1.0
    tiny = torch.finfo(base.dtype).tiny
    return torch.where(base > 0, base.clamp_min(tiny) ** exponent, 0.0)


def focal_terms(flipped: torch.Tensor, gamma: float, need_grad: bool):
    """``(1 - p)^gamma * (-log p)`` for ``p = sigmoid(-u)`` (``u = flipped``, minus the margin)
    and its derivative in u.

    With ``q = 1 - p = sigmoid(u)``: d/du [q^gamma (-log p)] = q^gamma (q - gamma p log p).
    """
    log_q = F.logsigmoid(flipped)
    log_p = log_q - flipped  # log p = log(1 - q), exact
    q = log_q.exp_()
    focusing = _power(q, gamma)
    values = log_p.neg() if gamma == 0 else (log_p * focusing).neg_()
    if not need_grad:
        return values, None
    if gamma == 0:
        return values, q
    return values, torch.addcmul(q, log_p.exp(), log_p, value=-gamma).mul_(focusing)


def focal_gradient(margin: torch.Tensor, gamma: float) -> torch.Tensor:
    """The derivative of :func:`focal_terms` in differentiable operations:
    ``-(1 - p)^gamma (gamma p (-log p) + 1 - p)``, with ``log(1 - p) = log sigmoid(-margin)``."""
    log_not_p = F.logsigmoid(-margin)
    inner = gamma * torch.sigmoid(margin) * -F.logsigmoid(margin) + torch.exp(log_not_p)
    return -torch.exp(gamma * log_not_p) * inner


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: float | None = None, reduction: str = "mean") -> torch.Tensor:
    r"""Sigmoid focal loss (Lin et al., ICCV 2017), unknown targets as negatives.

    Per entry, with :math:`p_t = \sigma(x)` on positives and :math:`\sigma(-x)` on negatives,

    .. math:: \ell = -\alpha_t (1 - p_t)^{\gamma} \log p_t,

    :math:`\alpha_t = \alpha` on positives and :math:`1 - \alpha` on negatives (no weighting when
    ``alpha`` is None). The focusing factor is differentiated (not detached). ``"mean"``
    divides the sum by ``B * C``; ``"none"`` returns the ``[B, C]`` terms.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> round(focal_loss(logits, targets).item(), 4)
    0.0797
    >>> round(focal_loss(logits, targets, gamma=0.0).item(), 4)  # plain BCE
    0.3694
    """
    name = "focal_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, FOCAL_SETTINGS, gamma=gamma, alpha=alpha, reduction=reduction)
    x = logits.to(compute_dtype(logits))

    def alpha_weight(positive):  # alpha on positives, 1 - alpha on negatives
        return positive * (2 * alpha - 1) + (1 - alpha)

    def kernel(x, targets, need_grad):
        flip = torch.rsub(targets, 0.5).sign_()  # -1 on positives, +1 on negatives: u = -margin = flip x
        values, d_flipped = focal_terms(x * flip, gamma, need_grad)
        if d_flipped is not None:
            d_flipped.mul_(flip)
        if alpha is not None:
            alpha_t = flip.mul(0.5 - alpha).add_(0.5)
            values.mul_(alpha_t)
            if d_flipped is not None:
                d_flipped.mul_(alpha_t)
        return values, d_flipped

    def gradient(x):
        positive = _positive_indicator(targets.detach(), x.dtype)
        sign = positive * 2 - 1
        grad = sign * focal_gradient(x * sign, gamma)
        return grad if alpha is None else grad * alpha_weight(positive)

    return closed_form_loss(kernel, gradient, x, targets, reduction=reduction)


def asymmetric_loss(logits: torch.Tensor, targets: torch.Tensor, gamma_neg: float = 4.0,
                    gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8,
                    reduction: str = "mean") -> torch.Tensor:
    r"""Asymmetric loss, ASL (Ridnik et al., ICCV 2021), unknown targets as negatives.

    With :math:`p = \sigma(x)` and the shifted probability :math:`p_m = \max(p - m, 0)`
    (``clip`` = m),

    .. math::
        \ell_+ = -(1 - p)^{\gamma_+} \log p, \qquad
        \ell_- = -p_m^{\gamma_-} \log(1 - p_m),

    both logarithms floored at :math:`\log \varepsilon` (computed in log space:
    :math:`\log p = \log\sigma(x)` and :math:`\log(1 - p_m) = \min(\log(\sigma(-x) + m), 0)`).
    The focusing weights :math:`(1-p)^{\gamma_+}` and :math:`p_m^{\gamma_-}` are constants
    in backprop (the authors' default), so the gradient of a positive term is
    :math:`(1-p)^{\gamma_+}(p - 1)` and of a negative term
    :math:`p_m^{\gamma_-}\, p(1-p)/(1-p+m)` for :math:`p > m`, 0 otherwise.
    ``"sum"`` is the authors' loss (their ``-sum``); ``"mean"`` divides it by ``B * C``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> round(asymmetric_loss(logits, targets, reduction="sum").item(), 4)
    0.4247
    """
    name = "asymmetric_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, ASYMMETRIC_SETTINGS, gamma_neg=gamma_neg, gamma_pos=gamma_pos, clip=clip,
                   eps=eps, reduction=reduction)
    x = logits.to(compute_dtype(logits))
    log_eps = math.log(eps)

    def kernel(x, targets, need_grad):
        positive = _positive_indicator(targets, x.dtype)
        log_p = F.logsigmoid(x)
        log_not_p = log_p - x  # log(1 - p)
        p = log_p.exp()
        not_p = log_not_p.exp()  # 1 - p, exact near p = 1
        if clip > 0:  # 1 - p_m = min(1 - p + m, 1)
            not_shifted = not_p + clip
            log_not_shifted = torch.log(not_shifted).clamp_max_(0)
        else:
            log_not_shifted = log_not_p
        # the focusing weights, held constant: y (1 - p)^gamma_pos and (1 - y) p_m^gamma_neg
        pos_part = positive if gamma_pos == 0 else positive * _power(not_p, gamma_pos)
        if gamma_neg:
            shifted_power = _power((p - clip).clamp_min_(0), gamma_neg)
            neg_part = torch.addcmul(shifted_power, positive, shifted_power, value=-1)
        else:
            neg_part = torch.rsub(positive, 1)
        # a log on its floor has derivative zero (the negative one reaches the floor only when
        # m < eps); the masks are rarely needed, so they are made only after a check, and before
        # the logs are floored in place
        pos_mask = neg_mask = None
        if need_grad and float(log_p.amin()) < log_eps:
            pos_mask = log_p >= log_eps
        if need_grad and clip < eps and float(log_not_shifted.amin()) < log_eps:
            neg_mask = log_not_shifted >= log_eps
        values = log_p.clamp_min_(log_eps).mul_(pos_part)
        values.addcmul_(neg_part, log_not_shifted.clamp_min_(log_eps)).neg_()
        if not need_grad:
            return values, None
        # d(-log p)/dx = p - 1 and d(-log(1 - p_m))/dx = p (1 - p) / (1 - p + m) for p > m
        if pos_mask is not None:
            pos_part = pos_part * pos_mask
        if clip > 0:
            neg_grad = not_p.mul_(p).div_(not_shifted)
            if not gamma_neg:  # otherwise p_m^gamma_neg = 0 already zeroes p <= m
                neg_grad.mul_(p > clip)
        else:
            neg_grad = p.clone()
        if neg_mask is not None:
            neg_grad.mul_(neg_mask)
        return values, p.sub_(1).mul_(pos_part).addcmul_(neg_grad, neg_part)

    def gradient(x):  # the kernel's gradient, in differentiable operations
        positive = _positive_indicator(targets.detach(), x.dtype)
        log_p, p, not_p = F.logsigmoid(x), torch.sigmoid(x), torch.sigmoid(-x)
        pos_grad = _differentiable_power(not_p, gamma_pos) * (p - 1) * (log_p >= log_eps)
        if clip > 0:
            neg_grad = p * not_p / (not_p + clip) * (p > clip)
            log_not_shifted = torch.log(not_p + clip).clamp_max(0)
        else:
            neg_grad, log_not_shifted = p, F.logsigmoid(-x)
        weight = _differentiable_power((p - clip).clamp_min(0), gamma_neg)
        neg_grad = weight * neg_grad * (log_not_shifted >= log_eps)
        return positive * pos_grad + (1 - positive) * neg_grad

    return closed_form_loss(kernel, gradient, x, targets, reduction=reduction)


def _class_statistics(class_counts, num_samples, num_classes: int, *, name: str):
    """Validate the training class counts; return 1 / n_c and log(N / n_c - 1) (float64)."""
    counts = torch.as_tensor(class_counts, dtype=torch.float64).detach()
    if counts.dim() != 1 or counts.numel() != num_classes:
        raise ValueError(f"{name}: class_counts must be a vector of {num_classes} counts, "
                         f"got shape {tuple(counts.shape)}")
    check_number(num_samples, "num_samples", POSITIVE, name=name)
    low, high = torch.aminmax(counts)  # NaN propagates, and fails both tests
    if not (low.item() > 0 and high.item() < num_samples):
        raise ValueError(f"{name}: every class count n_c must satisfy 0 < n_c < num_samples "
                         f"= {num_samples} (n_c = 0 or n_c = N makes log(N / n_c - 1) "
                         f"infinite); got {counts.tolist()}")
    return counts.reciprocal(), torch.log(num_samples / counts - 1)


def distribution_balanced_loss(logits: torch.Tensor, targets: torch.Tensor,
                               class_counts: torch.Tensor | Sequence[float], num_samples: int,
                               neg_scale: float = 5.0, init_bias: float = 0.05,
                               map_alpha: float = 0.1, map_beta: float = 10.0,
                               map_gamma: float = 0.3, focal_gamma: float = 2.0,
                               balance_param: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    r"""Distribution-balanced focal loss, DB (Wu et al., ECCV 2020; "DB Focal" in the DR paper).

    From the training class counts :math:`n_c` and the number of training images N:

    - re-balancing weight: :math:`r_{ic} = (1/n_c) / \sum_j y_{ij}/n_j`, smoothed to
      :math:`w_{ic} = \sigma(\beta (r_{ic} - \mu)) + \alpha` (``map_beta``, ``map_gamma``,
      ``map_alpha``); a sample without positives has :math:`r = \infty`, so :math:`w = 1+\alpha`;
    - negative-tolerant regularisation: bias
      :math:`b_c = -(\kappa/\lambda) \log(N/n_c - 1)` (``init_bias`` = kappa, ``neg_scale`` =
      lambda; the division by lambda follows the authors' code); positives use
      :math:`z = x + b_c`, negatives :math:`z = \lambda (x + b_c)` with weight
      :math:`w / \lambda`;
    - focal term: :math:`\ell = \text{balance}\,(1 - p_t)^{\gamma} \, w \,
      \mathrm{BCE}(z, y)` with :math:`p_t = e^{-\mathrm{BCE}(z, y)}` (not detached).

    Unknown targets count as negatives. ``"mean"`` divides by ``B * C``. The defaults are the
    VOC-LT preset; see :meth:`DistributionBalancedLoss.coco_lt` for COCO-LT. ``class_counts``
    with some :math:`n_c = 0` or :math:`n_c = N` raises ``ValueError``.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.5, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> loss = distribution_balanced_loss(logits, targets, class_counts=[50, 10, 3],
    ...                                   num_samples=100)
    >>> round(loss.item(), 4)
    0.1505
    """
    name = "distribution_balanced_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, DISTRIBUTION_BALANCED_SETTINGS, neg_scale=neg_scale, init_bias=init_bias,
                   map_alpha=map_alpha, map_beta=map_beta, map_gamma=map_gamma,
                   focal_gamma=focal_gamma, balance_param=balance_param, reduction=reduction)

    inverse_counts, log_odds = _class_statistics(class_counts, num_samples, logits.shape[1],
                                                 name=name)
    x = logits.to(compute_dtype(logits))
    inverse_counts = inverse_counts.to(device=x.device, dtype=x.dtype)
    bias = log_odds.mul_(-init_bias / neg_scale).to(device=x.device, dtype=x.dtype)

    largest = torch.finfo(x.dtype).max

    def factors(targets):
        """-d margin / dx (-1 on positives, lambda on negatives) and the weight of each entry."""
        positive = _positive_indicator(targets, x.dtype)
        # beta r_ic = beta (1/n_c) / sum_j y_ij / n_j; infinite without positives (w = 1 + alpha)
        ratio = torch.outer((positive @ inverse_counts).reciprocal_().mul_(map_beta), inverse_counts)
        weight = ratio.sub_(map_beta * map_gamma).sigmoid_().add_(map_alpha)
        flip = positive.mul(-1 - neg_scale).add_(neg_scale)
        # balance * w on positives, balance * w / lambda on negatives
        scale = weight.mul_(positive.mul_(balance_param * (1 - 1 / neg_scale))
                            .add_(balance_param / neg_scale))
        return flip, scale

    def kernel(x, targets, need_grad):
        flip, scale = factors(targets)
        # minus the margin: -z on positives, lambda (x + b) on negatives; finite where lambda x overflows
        flipped = (x + bias).mul_(flip).clamp_(-largest, largest)
        values, d_flipped = focal_terms(flipped, focal_gamma, need_grad)
        values.mul_(scale)
        if d_flipped is not None:
            d_flipped.mul_(flip).mul_(scale)
        return values, d_flipped

    def gradient(x):
        flip, scale = factors(targets.detach())
        margin = ((x + bias) * -flip).clamp(-largest, largest)
        return focal_gradient(margin, focal_gamma) * -flip * scale

    return closed_form_loss(kernel, gradient, x, targets, reduction=reduction)


class FocalLoss(nn.Module):
    """Module form of :func:`focal_loss`."""

    def __init__(self, gamma: float = 2.0, alpha: float | None = None, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, FOCAL_SETTINGS, gamma=gamma, alpha=alpha, reduction=reduction)
        self.gamma, self.alpha, self.reduction = gamma, alpha, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, targets, gamma=self.gamma, alpha=self.alpha,
                          reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, reduction={self.reduction!r}"


class AsymmetricLoss(nn.Module):
    """Module form of :func:`asymmetric_loss`."""

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05,
                 eps: float = 1e-8, reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, ASYMMETRIC_SETTINGS, gamma_neg=gamma_neg, gamma_pos=gamma_pos,
                       clip=clip, eps=eps, reduction=reduction)
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return asymmetric_loss(logits, targets, gamma_neg=self.gamma_neg,
                               gamma_pos=self.gamma_pos, clip=self.clip, eps=self.eps,
                               reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}, "
                f"eps={self.eps}, reduction={self.reduction!r}")


class DistributionBalancedLoss(nn.Module):
    """Module form of :func:`distribution_balanced_loss`; holds the training class counts.

    >>> loss_fn = DistributionBalancedLoss.coco_lt(class_counts=[50, 10, 3], num_samples=100)
    >>> loss_fn.neg_scale, loss_fn.map_gamma
    (2.0, 0.2)
    """

    def __init__(self, class_counts: torch.Tensor | Sequence[float], num_samples: int,
                 neg_scale: float = 5.0, init_bias: float = 0.05, map_alpha: float = 0.1,
                 map_beta: float = 10.0, map_gamma: float = 0.3, focal_gamma: float = 2.0,
                 balance_param: float = 2.0, reduction: str = "mean"):
        super().__init__()
        counts = torch.as_tensor(class_counts, dtype=torch.float64)
        _class_statistics(counts, num_samples, counts.numel(), name=type(self).__name__)
        check_settings(type(self).__name__, DISTRIBUTION_BALANCED_SETTINGS, neg_scale=neg_scale,
                       init_bias=init_bias, map_alpha=map_alpha, map_beta=map_beta, map_gamma=map_gamma,
                       focal_gamma=focal_gamma, balance_param=balance_param, reduction=reduction)
        self.register_buffer("class_counts", counts)
        self.num_samples = num_samples
        self.neg_scale, self.init_bias = neg_scale, init_bias
        self.map_alpha, self.map_beta, self.map_gamma = map_alpha, map_beta, map_gamma
        self.focal_gamma, self.balance_param, self.reduction = focal_gamma, balance_param, reduction

    @classmethod
    def voc_lt(cls, class_counts, num_samples: int, reduction: str = "mean"):
        """VOC-LT preset: lambda 5, kappa 0.05, alpha 0.1, beta 10, mu 0.3, gamma 2, balance 2."""
        return cls(class_counts, num_samples, neg_scale=5.0, init_bias=0.05, map_alpha=0.1,
                   map_beta=10.0, map_gamma=0.3, focal_gamma=2.0, balance_param=2.0,
                   reduction=reduction)

    @classmethod
    def coco_lt(cls, class_counts, num_samples: int, reduction: str = "mean"):
        """COCO-LT preset: as VOC-LT but lambda 2 and mu 0.2."""
        return cls(class_counts, num_samples, neg_scale=2.0, init_bias=0.05, map_alpha=0.1,
                   map_beta=10.0, map_gamma=0.2, focal_gamma=2.0, balance_param=2.0,
                   reduction=reduction)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return distribution_balanced_loss(
            logits, targets, self.class_counts, self.num_samples, neg_scale=self.neg_scale,
            init_bias=self.init_bias, map_alpha=self.map_alpha, map_beta=self.map_beta,
            map_gamma=self.map_gamma, focal_gamma=self.focal_gamma,
            balance_param=self.balance_param, reduction=self.reduction)

    def extra_repr(self) -> str:
        return (f"num_classes={self.class_counts.numel()}, num_samples={self.num_samples}, "
                f"neg_scale={self.neg_scale}, init_bias={self.init_bias}, "
                f"map_alpha={self.map_alpha}, map_beta={self.map_beta}, "
                f"map_gamma={self.map_gamma}, focal_gamma={self.focal_gamma}, "
                f"balance_param={self.balance_param}, reduction={self.reduction!r}")
