"""Two-way multi-label loss (Kobayashi, CVPR 2023) and its margin-bias variant (supplement A.1).

For a set of positive logits P and negative logits N,

    ell(P, N) = softplus(Tn * LSE_{n in N}(x_n / Tn) + Tp * LSE_{p in P}(-x_p / Tp)),

taken over the classes of one sample (sample-wise), over the samples of one class (class-wise),
or both (two-way). Targets are 1 (positive), 0 (negative), -1 (unknown: in neither set). The
loss has a closed-form gradient (one forward and one backward pass over the logits, see
:func:`mlteach.losses._label_sets.line_loss`), differentiable again for second derivatives. float16 / bfloat16 logits
are computed in float32 and the loss is returned in float32. NaN logits give a NaN loss.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._checks import POSITIVE, REAL, REDUCTIONS, check_logits_targets, check_settings, compute_dtype
from ._label_sets import SetLSE, line_loss, pair_softplus_head

__all__ = ["TwoWayTerms", "two_way_loss", "margin_bias_two_way_loss", "TwoWayLoss", "MarginBiasTwoWayLoss"]

MODES = ("sample", "class", "two-way")
TWO_WAY_SETTINGS = {"tp": POSITIVE, "tn": POSITIVE, "mode": MODES, "reduction": REDUCTIONS}
MARGIN_BIAS_SETTINGS = {"margin": REAL, "mode": MODES, "reduction": REDUCTIONS}


class TwoWayTerms(NamedTuple):
    """Unreduced two-way loss: ``per_sample`` ``[B]`` and ``per_class`` ``[C]`` terms.

    A sample (class) without positives or without negatives has the term 0. The ``"mean"``
    reduction is ``per_sample.sum() / (samples with a positive) + per_class.sum() / (classes
    with a positive)``.
    """

    per_sample: torch.Tensor
    per_class: torch.Tensor


def _two_way(logits: torch.Tensor, targets: torch.Tensor, tp: float, tn: float, margin: float, mode: str,
             reduction: str):
    dims = {"sample": (1,), "class": (0,), "two-way": (1, 0)}[mode]
    terms = tuple(SetLSE(labels, 1.0 / temperature, dim) for dim in dims
                  for labels, temperature in (("negative", tn), ("positive", tp)))
    outputs = line_loss(logits.to(compute_dtype(logits)), targets, terms, pair_softplus_head(reduction, margin=margin))
    if reduction == "none" and mode == "two-way":
        return TwoWayTerms(*outputs)
    return outputs[0]


def two_way_loss(logits: torch.Tensor, targets: torch.Tensor, tp: float = 4.0, tn: float = 1.0,
                 mode: str = "two-way", reduction: str = "mean"):
    r"""Two-way multi-label loss (two-way paper eqs. 14-17).

    Per sample (row) or per class (column), with positive set P and negative set N:

        ell = softplus(Tn * LSE_{n in N}(x_n / Tn) + Tp * LSE_{p in P}(-x_p / Tp)).

    ``mode="sample"`` / ``"class"`` use rows / columns; ``"two-way"`` (default) adds the
    sample-wise mean and the class-wise mean. ``"mean"`` divides each sum by the number of
    samples (classes) with at least one positive; a sample (class) with positives but no
    negatives counts with the term 0. ``"sum"`` adds the terms. ``"none"`` returns the ``[B]``
    (sample) or ``[C]`` (class) terms, or a :class:`TwoWayTerms` for ``"two-way"``. Adding a
    constant to all logits leaves the loss unchanged (supplement eq. iii). With ``tp = tn = 1``
    the sample-wise terms equal LSEP (gamma 1) and the class-wise terms C-LSEP. Paper defaults
    ``tp=4``, ``tn=1``; both must be > 0.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(two_way_loss(logits, targets).item(), 4)
    0.7576
    >>> two_way_loss(logits, targets, reduction="none")
    TwoWayTerms(per_sample=tensor([1.0326, 0.3133]), per_class=tensor([0.1269, 0.1269, 0.0000]))
    """
    name = "two_way_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, TWO_WAY_SETTINGS, tp=tp, tn=tn, mode=mode, reduction=reduction)
    return _two_way(logits, targets, tp, tn, 0.0, mode, reduction)


def margin_bias_two_way_loss(logits: torch.Tensor, targets: torch.Tensor, margin: float = 1.0,
                             mode: str = "two-way", reduction: str = "mean"):
    r"""Margin-bias loss: eq. (iii) of the two-way supplement with ``Tp = Tn = 1`` (gradient eq. iv).

    Adding ``eps_P`` to the positive logits and ``eps_N`` to the negative ones shifts the
    softplus argument by ``eps_N - eps_P``, so the additive margins reduce to one number,
    ``margin = eps_N - eps_P``:

        ell = softplus(LSE_{n in N}(x_n) + LSE_{p in P}(-x_p) + margin).

    A positive margin asks every positive logit to exceed every negative one by about
    ``margin``. ``mode`` and ``reduction`` work as in :func:`two_way_loss`; ``margin = 0`` gives
    the two-way loss with ``tp = tn = 1``. The supplement states no value for ``margin``; the
    default 1 is ours.

    >>> logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]])
    >>> targets = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    >>> round(margin_bias_two_way_loss(logits, targets).item(), 4)
    0.8329
    """
    name = "margin_bias_two_way_loss"
    check_logits_targets(logits, targets, name=name)
    check_settings(name, MARGIN_BIAS_SETTINGS, margin=margin, mode=mode, reduction=reduction)
    return _two_way(logits, targets, 1.0, 1.0, float(margin), mode, reduction)


class TwoWayLoss(nn.Module):
    """Module form of :func:`two_way_loss`."""

    def __init__(self, tp: float = 4.0, tn: float = 1.0, mode: str = "two-way", reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, TWO_WAY_SETTINGS, tp=tp, tn=tn, mode=mode, reduction=reduction)
        self.tp, self.tn, self.mode, self.reduction = tp, tn, mode, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor):
        return two_way_loss(logits, targets, self.tp, self.tn, self.mode, self.reduction)

    def extra_repr(self) -> str:
        return f"tp={self.tp}, tn={self.tn}, mode={self.mode!r}, reduction={self.reduction!r}"


class MarginBiasTwoWayLoss(nn.Module):
    """Module form of :func:`margin_bias_two_way_loss`."""

    def __init__(self, margin: float = 1.0, mode: str = "two-way", reduction: str = "mean"):
        super().__init__()
        check_settings(type(self).__name__, MARGIN_BIAS_SETTINGS, margin=margin, mode=mode, reduction=reduction)
        self.margin, self.mode, self.reduction = margin, mode, reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor):
        return margin_bias_two_way_loss(logits, targets, self.margin, self.mode, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, mode={self.mode!r}, reduction={self.reduction!r}"
