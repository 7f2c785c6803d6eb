"""The curves and readouts that the book's explorers show, computed from the real losses.

One implementation for the explorer pages (``notebooks/*_explorer.md``, which pass these
functions to :class:`mlteach.explore.Explorer`), their tests and the browser tests that check
what a built page draws. Each ``*_curves`` function takes the slider values and returns the
mapping an :class:`~mlteach.explore.Explorer` expects: display name -> curve (one value per
point of the explorer's axis, the module constant named in its docstring) or scalar readout.
Every gradient is torch autograd through :mod:`mlteach.losses`; the DR thresholds and the EM
curves come from :mod:`mlteach.symbolic`, which checks them against the papers' equations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from .losses import (asymmetric_loss, dr_loss, focal_loss, group_softmax_loss, large_loss_rate,
                     large_loss_selection, margin_bias_two_way_loss, two_way_loss)
from .symbolic.em import em_gradient_curve
from .symbolic.ranking import negative_gradient_threshold

__all__ = [
    "SHARE_LOGITS", "gradient_shares", "effective_number", "two_way_share_curves",
    "MOVING_LOGITS", "PUSH_READING_LOGIT", "push_on_moving_positive", "temperature_margin_curves",
    "FIG3_LOGITS", "FIG3_POSITIVE_LOGIT", "dr_negative_gradient", "dr_threshold_logit",
    "dr_threshold_curves",
    "NEGATIVE_PROBABILITIES", "EASY_PROBABILITY", "weight_relative_to_bce", "easy_negative_curves",
    "LARGE_LOSS_EPOCHS", "synthetic_single_positive_set", "large_loss_curves",
    "EM_LOGITS", "EM_READING_LOGIT", "em_curves",
    "SCALES", "synthetic_group_batch", "group_softmax_curves",
]

F64 = torch.float64


def _index_of(axis: torch.Tensor, value: float) -> int:
    return int((axis - value).abs().argmin())


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value)) if math.isfinite(value) else math.nan


# ---------------------------------------------------------------- chapter 2: two-way loss
#: One sample with a positive and a negative at each of these logits (the share explorer's x).
SHARE_LOGITS = torch.linspace(-4.0, 4.0, 41, dtype=F64)


def gradient_shares(tp: float, tn: float, logits: torch.Tensor = SHARE_LOGITS) -> tuple[torch.Tensor, torch.Tensor]:
    """How the sample-wise two-way loss shares its push among one sample's positives and its
    negatives, one of each at every value of ``logits``: the upward push on each positive
    (``-grad``) and the downward push on each negative (``grad``), each divided by its sum.
    The shares are the softmaxes of ``-x / tp`` and ``x / tn`` (two-way paper, eq. 3)."""
    count = logits.numel()
    row = torch.cat([logits, logits]).to(F64).unsqueeze(0).requires_grad_()
    targets = torch.cat([torch.ones(count), torch.zeros(count)]).to(F64).unsqueeze(0)
    two_way_loss(row, targets, tp=tp, tn=tn, mode="sample", reduction="sum").backward()
    push_up, push_down = -row.grad[0, :count], row.grad[0, count:]
    return push_up / push_up.sum(), push_down / push_down.sum()


def effective_number(shares: torch.Tensor) -> float:
    """exp(entropy) of ``shares``: 1 when one logit gets the whole push, n when n share it."""
    return math.exp(-float((shares * shares.log()).sum()))


def two_way_share_curves(tp: float, tn: float) -> dict:
    """The two-way share explorer (x: :data:`SHARE_LOGITS`)."""
    up, down = gradient_shares(tp, tn)
    return {"positives: share of the upward push": up,
            "negatives: share of the downward push": down,
            "positives sharing the push (effective number)": effective_number(up),
            "negatives sharing the push (effective number)": effective_number(down)}


#: The followed positive's logit (the temperature-or-margin explorer's x).
MOVING_LOGITS = torch.linspace(-6.0, 8.0, 57, dtype=F64)
PUSH_READING_LOGIT = 4.0
# the other classes of the sample: positives at 1 and 3, negatives at -2, -1, 0 and 0.5
_OTHER_LOGITS = torch.tensor([1.0, 3.0, -2.0, -1.0, 0.0, 0.5], dtype=F64)
_SAMPLE_TARGETS = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], dtype=F64)


def push_on_moving_positive(loss: Callable, moving_logits: torch.Tensor = MOVING_LOGITS,
                            **settings) -> torch.Tensor:
    """The upward push ``-d loss / d x_p'`` on a positive ``p'`` of a sample with two other
    positives (logits 1, 3) and four negatives (-2, -1, 0, 0.5), at each of ``moving_logits``
    (``loss`` sample-wise, ``reduction="sum"``; supplement eqs. iv and v)."""
    rows = moving_logits.numel()
    logits = torch.cat([moving_logits.to(F64).unsqueeze(1), _OTHER_LOGITS.expand(rows, -1)], dim=1)
    logits.requires_grad_()
    loss(logits, _SAMPLE_TARGETS.expand(rows, -1), mode="sample", reduction="sum", **settings).backward()
    return -logits.grad[:, 0]


def temperature_margin_curves(t: float, margin: float) -> dict:
    """The temperature-or-margin explorer (x: :data:`MOVING_LOGITS`)."""
    by_temperature = push_on_moving_positive(two_way_loss, tp=t, tn=1.0)
    by_margin = push_on_moving_positive(margin_bias_two_way_loss, margin=margin)
    reading = _index_of(MOVING_LOGITS, PUSH_READING_LOGIT)
    return {"temperature loss, eq. (v)": by_temperature,
            "margin-bias loss, eq. (iv)": by_margin,
            "push at x_p′ = 4, temperature": by_temperature[reading],
            "push at x_p′ = 4, margin bias": by_margin[reading]}


# ---------------------------------------------------------------- chapter 3: DR, focal, ASL
#: The negative's logit in the DR paper's Fig. 3 explorer (its x), and the positive's logit.
FIG3_LOGITS = torch.linspace(-4.0, 6.0, 81, dtype=F64)
FIG3_POSITIVE_LOGIT = 2.0


def dr_negative_gradient(negative_logits: torch.Tensor, gamma1: float, gamma2: float,
                         constraint: str) -> torch.Tensor:
    """``d loss / d s_k`` of :func:`mlteach.losses.dr_loss` on a negative at each of
    ``negative_logits``, in a class column holding one positive at :data:`FIG3_POSITIVE_LOGIT`
    (eq. 9 with ``constraint="none"``, eq. 10 with ``"negative"``)."""
    columns = negative_logits.numel()
    logits = torch.stack([torch.full_like(negative_logits, FIG3_POSITIVE_LOGIT, dtype=F64),
                          negative_logits.to(F64)]).requires_grad_()
    targets = torch.tensor([[1.0], [0.0]], dtype=F64).expand(2, columns)
    dr_loss(logits, targets, gamma1=gamma1, gamma2=gamma2, constraint=constraint, reduction="sum").backward()
    return logits.grad[1]


@functools.lru_cache(maxsize=None)
def dr_threshold_logit(gamma1: float, gamma2: float, constraint: str) -> float:
    """The logit where a negative's gradient "switches on" in the column of
    :func:`dr_negative_gradient`: the *onset* of
    ``mlteach.symbolic.ranking.negative_gradient_threshold`` (where the tangent at the
    curve's steepest point meets zero), for C-LSEP (``constraint="none"``) or DR with NGC
    (``"negative"``). Cached: each takes SymPy about half a second."""
    if constraint not in ("none", "negative"):
        raise ValueError(f"dr_threshold_logit: constraint must be 'none' or 'negative', got {constraint!r}")
    return negative_gradient_threshold(gamma1, None if constraint == "none" else gamma2,
                                       positive_logit=FIG3_POSITIVE_LOGIT, criterion="onset")["logit"]


def dr_threshold_curves(gamma1: float, gamma2: float) -> dict:
    """The Fig. 3 explorer (x: :data:`FIG3_LOGITS`): both gradients and both thresholds."""
    c_lsep, dr = dr_threshold_logit(gamma1, gamma2, "none"), dr_threshold_logit(gamma1, gamma2, "negative")
    return {"C-LSEP, eq. (9)": dr_negative_gradient(FIG3_LOGITS, gamma1, gamma2, "none"),
            "DR = C-LSEP + NGC, eq. (10)": dr_negative_gradient(FIG3_LOGITS, gamma1, gamma2, "negative"),
            "C-LSEP threshold logit s*": c_lsep,
            "DR threshold logit s*": dr,
            "C-LSEP threshold probability p*": _sigmoid(c_lsep),
            "DR threshold probability p*": _sigmoid(dr)}


#: A negative's probability (the easy-negative explorer's x), and where its readouts look.
NEGATIVE_PROBABILITIES = torch.linspace(0.01, 0.99, 50, dtype=F64)
EASY_PROBABILITY = 0.15


def weight_relative_to_bce(loss: Callable, probabilities: torch.Tensor = NEGATIVE_PROBABILITIES,
                           **settings) -> torch.Tensor:
    """The gradient ``loss`` gives a negative at each probability, divided by BCE's (``p``):
    the weight the loss puts on that negative relative to BCE."""
    logits = (torch.log(probabilities) - torch.log1p(-probabilities)).to(F64).unsqueeze(0).requires_grad_()
    loss(logits, torch.zeros_like(logits), reduction="sum", **settings).backward()
    return logits.grad[0] / probabilities


def easy_negative_curves(gamma: float, clip: float) -> dict:
    """The focal-against-ASL explorer (x: :data:`NEGATIVE_PROBABILITIES`)."""
    focal = weight_relative_to_bce(focal_loss, gamma=gamma)
    asl = weight_relative_to_bce(asymmetric_loss, gamma_neg=gamma, clip=clip)
    easy = _index_of(NEGATIVE_PROBABILITIES, EASY_PROBABILITY)
    return {"focal loss (γ)": focal, "ASL (γ− = γ, clip m)": asl,
            "focal weight at p = 0.15": focal[easy], "ASL weight at p = 0.15": asl[easy]}


# ---------------------------------------------------------------- chapter 4: Large Loss
LARGE_LOSS_EPOCHS = 10


def synthetic_single_positive_set(images: int = 400, classes: int = 20, seed: int = 0):
    """A fixed single-positive set with a frozen model's logits: ``(logits, targets, truth)``.
    About 15 % of entries are true positives (at least one per image); one per image is known
    (target 1), the rest unknown (-1). Logits of true positives are N(1, 1.5²), of true
    negatives N(-2, 1.5²)."""
    generator = torch.Generator().manual_seed(seed)
    truth = (torch.rand(images, classes, generator=generator) < 0.15).float()
    rows = torch.arange(images)
    truth[rows, torch.randint(0, classes, (images,), generator=generator)] = 1.0
    known_positive = (torch.rand(images, classes, generator=generator) * truth).argmax(dim=1)
    targets = torch.full((images, classes), -1.0)
    targets[rows, known_positive] = 1.0
    logits = torch.where(truth == 1, 1.0 + 1.5 * torch.randn(images, classes, generator=generator),
                         -2.0 + 1.5 * torch.randn(images, classes, generator=generator))
    return logits, targets, truth


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else math.nan


def large_loss_curves(delta_rel_percent: float) -> dict:
    """The Large Loss explorer (x: epochs 1 to :data:`LARGE_LOSS_EPOCHS`) on
    :func:`synthetic_single_positive_set`: the unknown entries LL-R / LL-Ct modify at each
    epoch, those that are hidden positives, and LL-Cp's accumulated corrections, for the
    relative schedule ``delta_rel`` in percent of ``B * C`` per epoch."""
    logits, targets, truth = synthetic_single_positive_set()
    unknown = targets == -1
    hidden_positive = unknown & (truth == 1)
    unknown_count, hidden_count = int(unknown.sum()), int(hidden_positive.sum())
    delta_rel = delta_rel_percent / 100
    modified, modified_positive = [], []
    relabelled = targets.clone()  # LL-Cp's labels, corrected epoch after epoch
    for epoch in range(1, LARGE_LOSS_EPOCHS + 1):
        chosen = large_loss_selection(logits, targets, rate=large_loss_rate(epoch, delta_rel, "LL-R"))
        modified.append(int(chosen.sum()))
        modified_positive.append(int((chosen & hidden_positive).sum()))
        corrected = large_loss_selection(logits, relabelled, rate=large_loss_rate(epoch, delta_rel, "LL-Cp"))
        relabelled[corrected] = 1.0
    corrected_so_far = (relabelled == 1) & unknown

    def to_percent(counts: list[int]) -> torch.Tensor:
        return 100.0 * torch.tensor(counts, dtype=F64) / unknown_count

    last = LARGE_LOSS_EPOCHS
    return {
        "LL-R / LL-Ct: modified at this epoch": to_percent(modified),
        "… of which hidden positives": to_percent(modified_positive),
        "all hidden positives": to_percent([hidden_count] * last),
        f"LL-R / LL-Ct at epoch {last}: hidden positives among the modified (%)":
            _percent(modified_positive[-1], modified[-1]),
        f"LL-Cp after {last} epochs: corrected (% of unknown)":
            _percent(int(corrected_so_far.sum()), unknown_count),
        f"LL-Cp after {last} epochs: corrections that are right (%)":
            _percent(int((corrected_so_far & hidden_positive).sum()), int(corrected_so_far.sum())),
    }


# ---------------------------------------------------------------- chapter 5: EM
#: The entry's logit (the EM explorer's x), and the confident prediction the readouts look at.
EM_LOGITS = torch.linspace(-8.0, 8.0, 81, dtype=F64)
EM_READING_LOGIT = 3.0


def em_curves(alpha: float) -> dict:
    """The EM-against-AN explorer (x: :data:`EM_LOGITS`): the gradients of
    ``mlteach.symbolic.em.em_gradient_curve`` (autograd, checked against the EM
    supplement's eqs. 9-11). AN treats an unknown entry as a negative, so its curve is eq. 10."""
    positive = em_gradient_curve(EM_LOGITS, "annotated positive", alpha=alpha)
    unknown_an = em_gradient_curve(EM_LOGITS, "negative", alpha=alpha)
    unknown_em = em_gradient_curve(EM_LOGITS, "unannotated", alpha=alpha)
    reading = _index_of(EM_LOGITS, EM_READING_LOGIT)
    return {"known positive (AN and EM)": positive,
            "unknown entry, AN": unknown_an,
            "unknown entry, EM": unknown_em,
            "largest |EM gradient| on an unknown entry": float(abs(unknown_em).max()),
            "gradient at g = 3, EM": float(unknown_em[reading]),
            "gradient at g = 3, AN": float(unknown_an[reading])}


# ---------------------------------------------------------------- chapter 6: group softmax
#: The feature scale (the group softmax explorer's x).
SCALES = torch.linspace(0.0, 4.0, 33, dtype=F64)


def synthetic_group_batch(samples: int = 256, dim: int = 64, classes: int = 10, seed: int = 0):
    """A fixed batch ``(features, weight, labels)``: random classifier columns, and features
    near the direction of their class's column (2 times the unit direction plus N(0, 0.5²))."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(dim, classes, generator=generator, dtype=F64) / math.sqrt(dim)
    labels = torch.randint(0, classes, (samples,), generator=generator)
    directions = weight[:, labels].T / weight[:, labels].norm(dim=0).unsqueeze(1)
    features = 2.0 * directions + 0.5 * torch.randn(samples, dim, generator=generator, dtype=F64)
    return features, weight, labels


@functools.lru_cache(maxsize=None)
def _mean_losses_against_scale(groups: int, kind: str) -> torch.Tensor:
    features, weight, labels = synthetic_group_batch()
    return torch.tensor([float(group_softmax_loss(s * features, weight, labels, groups, kind=kind))
                         for s in SCALES.tolist()], dtype=F64)


def group_softmax_curves(groups: int) -> dict:
    """The group softmax explorer (x: :data:`SCALES`): the mean softmax (G = 1), type I and
    type II losses of :func:`synthetic_group_batch` with its features scaled by each value."""
    softmax = _mean_losses_against_scale(1, "I")
    type_one, type_two = _mean_losses_against_scale(groups, "I"), _mean_losses_against_scale(groups, "II")
    at_one = _index_of(SCALES, 1.0)
    return {"softmax loss (G = 1)": softmax, "type I": type_one, "type II": type_two,
            "gap type I − softmax at s = 1": float(type_one[at_one] - softmax[at_one]),
            "gap type II − type I at s = 1": float(type_two[at_one] - type_one[at_one])}
