"""Circle loss (Sun et al., CVPR 2020) for multi-label classification: the "Circle Loss" row of
the DR paper's Table 1.

Circle loss is a pair-similarity loss: it wants every within-class score s_p above every
between-class score s_n, and weights each score by how far it is from its optimum. In
multi-label classification the scores of one sample are its class logits: the positive classes
give the within-class scores, the negative classes the between-class ones, so the loss is a
per-sample ranking loss like LSEP (:mod:`~mlteach.losses.ranking`), and like it is computed with
two log-sum-exps in O(B*C), never with a ``|P| x |N|`` tensor; the log-sum-exps are those of
:mod:`~mlteach.losses._label_sets` (closed-form gradient), taken over the circle exponents
instead of the logits. Targets are 1 (positive),
0 (negative), -1 (unknown: in neither set). float16 / bfloat16 logits are computed in float32
and the loss is returned in float32. NaN logits give a NaN loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (FLAG, NONNEGATIVE, POSITIVE, REDUCTIONS, check_logits_targets, check_settings, closed_form_loss,
                      compute_dtype)
from ._label_sets import SetLSE, line_loss, pair_softplus_head

__all__ = ["circle_loss", "CircleLoss"]

CIRCLE_SETTINGS = {"margin": NONNEGATIVE, "gamma": POSITIVE, "detach_weights": FLAG, "reduction": REDUCTIONS}


def circle_loss(logits: torch.Tensor, targets: torch.Tensor, margin: float = 0.25, gamma: float = 256.0,
                detach_weights: bool = True, reduction: str = "mean") -> torch.Tensor:
    r"""Circle loss (Sun et al., CVPR 2020, eq. 6 with the weights of eq. 5) per sample, over
    its positive classes P and negative classes N:

    .. math::
        \ell = \log\Bigl(1 + \sum_{j\in N} e^{\gamma \alpha_j (s_j - \Delta_n)}
                             \sum_{i\in P} e^{-\gamma \alpha_i (s_i - \Delta_p)}\Bigr)
             = \operatorname{softplus}\bigl(\operatorname{LSE}_{j\in N}(\gamma\alpha_j(s_j - \Delta_n))
               + \operatorname{LSE}_{i\in P}(-\gamma\alpha_i(s_i - \Delta_p))\bigr),

    with the self-paced weights :math:`\alpha_i = [O_p - s_i]_+` (positives) and
    :math:`\alpha_j = [s_j - O_n]_+` (negatives), and the paper's settings
    :math:`O_p = 1 + m`, :math:`O_n = -m`, :math:`\Delta_p = 1 - m`, :math:`\Delta_n = m`
    (``margin`` = m, ``gamma`` = the scale). A score already past its optimum gets weight 0 and
    no gradient. The paper's scores are cosine similarities in [-1, 1]; here they are the
    logits, used as given (a cosine classifier head gives the paper's setting). Beyond
    :math:`[-m, 1 + m]` the exponents grow with the square of the logits, so the loss is finite
    while :math:`\gamma s^2` fits the dtype (float32: :math:`|s|` up to about 1e18 at
    :math:`\gamma = 256`); the gradient, of size about :math:`\gamma |s|`, is returned in the
    logits' dtype (float16 logits: :math:`|s|` up to about 250 at :math:`\gamma = 256`).
    With ``detach_weights=True`` (default) the weights are constants in back-propagation, as in
    the open implementations of circle loss we know of; ``False`` differentiates through them
    too (the exact gradient of the formula). Defaults m = 0.25, gamma = 256: the
    paper's settings for learning with class-level labels (face recognition).

    A sample without positives or without negatives contributes 0; ``"mean"`` divides by the
    number of samples with at least one positive (as LSEP); ``"none"`` returns the ``[B]`` terms.

    >>> logits = torch.tensor([[0.9, -0.2, 0.1], [0.3, 0.6, -1.0]])
    >>> targets = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    >>> circle_loss(logits, targets, gamma=8.0, reduction="none")
    tensor([0.4375, 1.7749])
    """
    name = "circle_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, CIRCLE_SETTINGS, margin=margin, gamma=gamma, detach_weights=detach_weights,
                   reduction=reduction)
    x = logits.to(compute_dtype(logits))
    t = targets.detach().to(x.dtype)
    # With y = 1 - s on positives and y = s on negatives both exponents read gamma [y + m]_+ (y - m):
    # -gamma a_i (s_i - Delta_p) on a positive, gamma a_j (s_j - Delta_n) on a negative. The
    # label-set log-sum-exp reads positives as -value, so it is handed sign * exponent, with
    # sign = -1 on positives and +1 elsewhere (y = sign * s + [positive]). As dy/ds = sign, the
    # derivative of sign * exponent is gamma [y + m]_+ with constant weights and, with the
    # weights differentiated, gamma ([y + m]_+ + (y - m) [y + m > 0]) = 2 gamma y [y + m > 0].
    # This elementwise step has its closed-form derivative (closed_form_loss, no reduction).

    def kernel(x, t, need_grad):
        positive = t.clamp(min=0)
        y = torch.addcmul(x, positive, x, value=-2).add_(positive)  # x + [positive] (1 - 2x)
        scaled_weight = torch.add(y, margin).relu_().mul_(gamma)  # gamma [y + m]_+
        # sign * (y - m) = x + [positive] (2m - 1) - m
        values = torch.add(x, positive, alpha=2 * margin - 1).sub_(margin).mul_(scaled_weight)
        if not need_grad:
            return values, None
        if detach_weights:
            return values, scaled_weight
        return values, torch.where(scaled_weight > 0, y, 0.0).mul_(2 * gamma)

    def gradient(x):
        positive = t.clamp(min=0)
        if detach_weights:
            x = x.detach()
        y = x * (1 - 2 * positive) + positive
        if detach_weights:
            return gamma * F.relu(y + margin)
        return 2 * gamma * torch.where(y + margin > 0, y, 0.0)

    signed_exponents = closed_form_loss(kernel, gradient, x, t, reduction="none")
    # an empty set gives -inf, and softplus(-inf) = 0 with no gradient
    (loss,) = line_loss(signed_exponents, t, (SetLSE("negative", 1.0, 1), SetLSE("positive", 1.0, 1)),
                        pair_softplus_head(reduction))  # softplus(N + P), mean over samples with a positive
    return loss


class CircleLoss(nn.Module):
    """Module form of :func:`circle_loss`."""

    def __init__(self, margin: float = 0.25, gamma: float = 256.0, detach_weights: bool = True,
                 reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, CIRCLE_SETTINGS, margin=margin, gamma=gamma,
                       detach_weights=detach_weights, reduction=reduction)
        self.margin, self.gamma, self.detach_weights, self.reduction = margin, gamma, detach_weights, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return circle_loss(logits, targets, self.margin, self.gamma, self.detach_weights, self.reduction)

    def extra_repr(self) -> str:
        return (f"margin={self.margin}, gamma={self.gamma}, detach_weights={self.detach_weights}, "
                f"reduction={self.reduction!r}")
