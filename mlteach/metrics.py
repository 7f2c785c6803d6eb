"""Evaluation metrics of the book: average precision, F1, head / medium / tail mAP, and the
quality of pseudo-labels.

Every function takes ``scores`` and ``targets`` of shape ``[N, C]`` as torch tensors or numpy
arrays. ``targets`` follow the package convention (1 positive, 0 negative, -1 unknown) and an
unknown entry is left out of every metric, as if that (sample, class) pair had not been
evaluated. Results are Python floats in [0, 1]. A metric with nothing to average (no class, or
no sample, with a known positive) is NaN and raises an :class:`UndefinedMetricWarning`; it is
never silently 0.

Which mAP the book reports
--------------------------
Average precision of one ranking is the non-interpolated sum over distinct score thresholds

    AP = sum_n (R_n - R_{n-1}) P_n,

with P_n and R_n the precision and recall of the items scoring at least the n-th threshold.
Tied scores cross a threshold together, so a tie counts like scikit-learn's
``average_precision_score`` (the tests check equality with it), not like a ranking that breaks
ties by position. **mAP@class** (the main number of every paper here) averages AP over classes,
each class ranking the evaluated samples; **mAP@sample** averages over samples, each sample
ranking the classes (the two-way paper reports both). The book's default is
``average_precision(scores, targets)``: mAP@class over the classes that have at least one known
positive in the evaluated split (``empty="skip"``).

How the papers' code differs
----------------------------
- A class without positives in the test split: the two-way loss code leaves it out of the
  mean (``empty="skip"``); the ASL code and the Large Loss Matters code give it AP 0
  (``empty="zero"``), which lowers mAP by 1/C for each such class. On the full VOC, COCO or
  NUS-WIDE test sets every class has positives and the two agree; they differ on small or
  subsampled evaluation sets, such as per-batch evaluation or the book's small mosaic splits.
- Scale: the papers print percentages (mAP 85.3); these functions return fractions (0.853).
  The book multiplies by 100 only where it puts its numbers beside a paper's.
- F1: a label is predicted present when its score (a probability) is at least the threshold,
  0.5 by default; the EM paper uses 0.75 for its EM-trained models.

Thresholds and calibration
--------------------------
F1 needs a decision, mAP does not. :func:`predict_labels` thresholds scores (one threshold, or
one per class), :func:`predict_top_k` keeps the k highest scores of each sample,
:func:`f1_optimal_thresholds` picks the thresholds that maximise F1 on a validation split, and
:func:`prediction_scores` measures any 0/1 prediction. :func:`reliability_bins` and
:func:`expected_calibration_error` say how far predicted probabilities are from observed
frequencies.

Every parameter is validated: a bool, NaN or infinity where a number is expected is refused
with a message naming the parameter and its allowed range.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
import torch

from mlteach.data.long_tail import VOC_LT_HEAD_MIN, VOC_LT_TAIL_BELOW, class_split

AVERAGES = ("class", "sample")
EMPTY_RULES = ("skip", "zero")


class UndefinedMetricWarning(UserWarning):
    """A metric had nothing to average (no known positive) and returned NaN."""


class F1Scores(NamedTuple):
    micro: float
    macro: float


class PredictionScores(NamedTuple):
    """Micro precision and recall (counts pooled over the known entries), micro and macro F1."""

    precision: float
    recall: float
    micro_f1: float
    macro_f1: float


class ReliabilityBins(NamedTuple):
    """Equal-width probability bins: their edges ``[bins + 1]``, and per bin the mean predicted
    probability, the observed frequency of positives (NaN for an empty bin) and the count."""

    edges: np.ndarray
    confidence: np.ndarray
    frequency: np.ndarray
    count: np.ndarray


class PseudoLabelQuality(NamedTuple):
    precision: float
    recall: float
    count: int


def _as_tensor(values, name: str) -> torch.Tensor:
    tensor = values.detach() if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    if tensor.dim() != 2:
        raise ValueError(f"{name} must have shape [N, C], got {tuple(tensor.shape)}")
    return tensor.to(torch.float64)


def _scores_and_targets(scores, targets) -> tuple[torch.Tensor, torch.Tensor]:
    scores, targets = _as_tensor(scores, "scores"), _as_tensor(targets, "targets")
    if scores.shape != targets.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and targets {tuple(targets.shape)} differ in shape")
    if bool(torch.isnan(scores).any()):
        raise ValueError("scores contain NaN")
    if bool(((targets != 1) & (targets != 0) & (targets != -1)).any()):
        raise ValueError("targets must be 1 (positive), 0 (negative) or -1 (unknown)")
    return scores, targets.to(scores.device)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_number(value, name: str, allowed: str, low: float = -math.inf, high: float = math.inf,
                  integer: bool = False) -> None:
    """Refuse a bool, a non-number, NaN, infinity or a value outside [low, high], naming
    ``name`` and the ``allowed`` range in the message."""
    ok = _is_number(value) and math.isfinite(value) and low <= value <= high
    if ok and integer:
        ok = isinstance(value, (int, np.integer))
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _thresholds(threshold, classes: int) -> torch.Tensor:
    """One threshold per class (float64 ``[C]``) from a number or a sequence of ``C`` numbers."""
    allowed = f"a finite number or a sequence of {classes} finite numbers (one per class)"
    if _is_number(threshold):
        _check_number(threshold, "threshold", allowed)
        return torch.full((classes,), float(threshold), dtype=torch.float64)
    values = np.asarray(threshold.detach().cpu() if isinstance(threshold, torch.Tensor) else threshold)
    if values.dtype.kind not in "iuf" or values.shape != (classes,) or not np.isfinite(values).all():
        raise ValueError(f"threshold must be {allowed}, got {threshold!r}")
    return torch.from_numpy(values.astype(np.float64))


def _undefined(what: str) -> float:
    warnings.warn(f"{what}: no known positive to evaluate; returning NaN", UndefinedMetricWarning, stacklevel=3)
    return math.nan


def ranking_average_precisions(scores: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """AP of each row of ``scores`` (float64 ``[R, M]``) against ``targets`` in {1, 0, -1}, and
    whether the row has a known positive (AP is 0 where it has none).

    Vectorised over rows: sort each row by decreasing score with unknown entries moved last;
    every positive then contributes the precision measured at the end of its group of tied
    scores, divided by the row's number of positives.
    """
    rows, length = scores.shape
    known, positive = targets != -1, targets == 1
    by_score = torch.sort(scores, dim=1, descending=True, stable=True).indices
    known_first = torch.sort((~known.gather(1, by_score)).to(torch.int8), dim=1, stable=True).indices
    order = by_score.gather(1, known_first)
    score, known, positive = scores.gather(1, order), known.gather(1, order), positive.gather(1, order)
    true_positives = torch.cumsum(positive, dim=1, dtype=torch.float64)
    ranked = torch.cumsum(known, dim=1, dtype=torch.float64)
    ends_group = torch.ones_like(known)
    ends_group[:, :-1] = (score[:, 1:] != score[:, :-1]) | ~known[:, 1:]
    position = torch.arange(length, device=scores.device).expand(rows, length)
    end_marks = torch.where(ends_group, position, length)
    group_end = torch.cummin(end_marks.flip(1), dim=1).values.flip(1)
    precision = true_positives.gather(1, group_end) / ranked.gather(1, group_end).clamp(min=1)
    num_positive = positive.sum(dim=1)
    ap = torch.where(positive, precision, 0.0).sum(dim=1) / num_positive.clamp(min=1)
    return ap, num_positive > 0


def average_precision(scores, targets, average: str = "class", empty: str = "skip") -> float:
    """mAP@class (``average="class"``) or mAP@sample (``average="sample"``).

    ``empty``: ``"skip"`` leaves classes (samples) without a known positive out of the mean;
    ``"zero"`` counts them as AP 0. See the module docstring for the definition.

    >>> scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.5, 0.6]])
    >>> targets = torch.tensor([[1., 0.], [0., 1.], [1., -1.], [0., 0.]])
    >>> average_precision(scores, targets)  # class 0: (1 + 2/4) / 2; class 1: 1
    0.875
    >>> round(average_precision(scores, targets, average="sample"), 4)  # rows: 1, 1/2, 1, none
    0.8333
    >>> average_precision(scores, targets, average="sample", empty="zero")  # the 4th row counts 0
    0.625
    """
    if average not in AVERAGES or empty not in EMPTY_RULES:
        raise ValueError(f"average must be one of {AVERAGES} and empty one of {EMPTY_RULES}, "
                         f"got {average!r} and {empty!r}")
    scores, targets = _scores_and_targets(scores, targets)
    if average == "class":
        scores, targets = scores.T, targets.T
    ap, has_positive = ranking_average_precisions(scores, targets)
    if not bool(has_positive.any()):
        return _undefined(f"mAP@{average}")
    return float(ap[has_positive].mean() if empty == "skip" else ap.mean())


def class_average_precisions(scores, targets) -> np.ndarray:
    """AP of each class, ``[C]``; NaN for a class without a known positive.

    >>> class_average_precisions([[0.9, 0.2], [0.1, 0.4]], [[1, 0], [0, 0]]).tolist()
    [1.0, nan]
    """
    scores, targets = _scores_and_targets(scores, targets)
    ap, has_positive = ranking_average_precisions(scores.T, targets.T)
    return torch.where(has_positive, ap, math.nan).cpu().numpy()


def group_average_precision(scores, targets, class_counts, head_min: float = VOC_LT_HEAD_MIN,
                            tail_below: float = VOC_LT_TAIL_BELOW) -> dict[str, float]:
    """mAP@class over all classes and over the head, medium and tail groups that
    :func:`mlteach.data.long_tail.class_split` makes from the training ``class_counts``.

    Pass the scaled thresholds of a small data set (``data.meta["group_thresholds"]``) as
    keywords. Classes without a known positive in the evaluated split are skipped; a group
    with no such class is NaN (with a warning).

    >>> scores = torch.tensor([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6]])
    >>> targets = torch.tensor([[1., 1., 0.], [0., 0., 1.]])
    >>> group_average_precision(scores, targets, class_counts=[500, 50, 5])
    {'total': 1.0, 'head': 1.0, 'medium': 1.0, 'tail': 1.0}
    """
    per_class = class_average_precisions(scores, targets)
    counts = np.asarray(class_counts.detach().cpu() if isinstance(class_counts, torch.Tensor) else class_counts)
    if counts.dtype.kind not in "iuf" or counts.ndim != 1 or not (np.isfinite(counts) & (counts >= 0)).all():
        raise ValueError(f"class_counts must be a sequence of finite numbers >= 0 (training images per "
                         f"class), got {class_counts!r}")
    _check_number(head_min, "head_min", "a finite number >= 0", low=0)
    _check_number(tail_below, "tail_below", "a finite number >= 0", low=0)
    if len(counts) != len(per_class):
        raise ValueError(f"{len(counts)} class counts for {len(per_class)} classes")
    groups = {"total": list(range(len(per_class))),
              **class_split(counts, head_min=head_min, tail_below=tail_below)}
    result = {}
    for name, members in groups.items():
        values = per_class[members]
        values = values[~np.isnan(values)]
        result[name] = float(values.mean()) if len(values) else _undefined(f"{name} mAP")
    return result


def predict_labels(scores, threshold=0.5) -> torch.Tensor:
    """Boolean ``[N, C]`` predictions ``scores >= threshold``; ``threshold`` is one finite number
    or one per class (a sequence of ``C``).

    >>> predict_labels([[0.9, 0.2], [0.4, 0.6]], threshold=[0.5, 0.1]).tolist()
    [[True, True], [False, True]]
    """
    scores = _as_tensor(scores, "scores")
    return scores >= _thresholds(threshold, scores.shape[1]).to(scores.device)


def predict_top_k(scores, k: int) -> torch.Tensor:
    """Boolean ``[N, C]`` predictions: the ``k`` highest scores of each sample (ties broken by
    ``torch.topk``). Needs no threshold, so it suits losses whose scores have no natural one.

    >>> predict_top_k([[0.1, 0.7, 0.3], [5.0, -1.0, 2.0]], k=2).tolist()
    [[False, True, True], [True, False, True]]
    """
    scores = _as_tensor(scores, "scores")
    _check_number(k, "k", f"an integer from 1 to the number of classes {scores.shape[1]}", 1, scores.shape[1],
                  integer=True)
    predicted = torch.zeros_like(scores, dtype=torch.bool)
    return predicted.scatter_(1, scores.topk(int(k), dim=1).indices, True)


def prediction_scores(predicted, targets) -> PredictionScores:
    """Micro precision, micro recall, micro F1 and macro F1 of 0/1 predictions ``[N, C]``.

    Unknown targets (-1) are left out. Micro scores pool the counts of every known entry; macro
    F1 averages the per-class F1, a class with no positive and no predicted positive counting 0
    (scikit-learn's ``zero_division=0``); precision without any predicted positive is 0.

    >>> prediction_scores([[1, 1], [0, 1], [1, 0]], [[1, 1], [0, 1], [0, -1]])
    PredictionScores(precision=0.75, recall=1.0, micro_f1=0.8571428571428571, macro_f1=0.8333333333333333)
    """
    predicted, targets = _scores_and_targets(predicted, targets)
    if bool(((predicted != 0) & (predicted != 1)).any()):
        raise ValueError("predicted must hold 0 or 1 (False or True) in every entry")
    predicted, known, actual = predicted == 1, targets != -1, targets == 1
    if not bool(actual.any()):
        nan = _undefined("recall and F1")
        return PredictionScores(nan, nan, nan, nan)
    tp = (predicted & actual).sum(dim=0).to(torch.float64)
    fp = (predicted & known & ~actual).sum(dim=0).to(torch.float64)
    fn = (~predicted & actual).sum(dim=0).to(torch.float64)
    per_class = torch.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1), 0.0)
    tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision = tp / (tp + fp) if tp + fp > 0 else torch.tensor(0.0)
    return PredictionScores(float(precision), float(tp / (tp + fn)), float(2 * tp / (2 * tp + fp + fn)),
                            float(per_class.mean()))


def f1_scores(scores, targets, threshold=0.5) -> F1Scores:
    """Micro- and macro-averaged F1 of the predictions ``scores >= threshold`` (one finite
    threshold, or one per class).

    ``scores`` are probabilities (apply a sigmoid to logits first). Micro-F1 pools the counts of
    all known entries; macro-F1 averages the per-class F1, and a class with no positive and no
    predicted positive among its known entries has F1 0 (scikit-learn's ``zero_division=0``).

    >>> probs = torch.tensor([[0.9, 0.6], [0.2, 0.4], [0.7, 0.1]])
    >>> targets = torch.tensor([[1., 1.], [0., 1.], [0., -1.]])
    >>> f1_scores(probs, targets)  # class 0: tp 1, fp 1; class 1: tp 1, fn 1
    F1Scores(micro=0.6666666666666666, macro=0.6666666666666666)
    """
    scores, targets = _scores_and_targets(scores, targets)
    result = prediction_scores(predict_labels(scores, threshold), targets)
    return F1Scores(result.micro_f1, result.macro_f1)


def _best_f1_threshold(scores: torch.Tensor, positive: torch.Tensor) -> tuple[float, float]:
    """(threshold, F1) maximising F1 = 2 TP / (predicted + positives) of ``scores >= threshold``
    over one pooled ranking of known entries (1-D); the threshold lies halfway between the
    lowest score predicted positive and the next lower score."""
    order = torch.argsort(scores, descending=True, stable=True)
    score, hit = scores[order], positive[order].to(torch.float64)
    tp = torch.cumsum(hit, 0)
    predicted = torch.arange(1, len(score) + 1, dtype=torch.float64)
    ends_group = torch.ones_like(score, dtype=torch.bool)
    ends_group[:-1] = score[1:] != score[:-1]  # tied scores are predicted together
    f1 = torch.where(ends_group, 2 * tp / (predicted + hit.sum()), -1.0)
    best = int(torch.argmax(f1))
    below = score[best + 1] if best + 1 < len(score) else score[best] - 1.0
    halfway = float((score[best] + below) / 2)
    return (halfway if math.isfinite(halfway) else float(score[best])), float(f1[best])


def f1_optimal_thresholds(scores, targets, per_class: bool = True) -> torch.Tensor:
    """Thresholds ``[C]`` that maximise F1 on the given (validation) split, for
    :func:`predict_labels` on another split.

    ``per_class=True``: each class its own threshold, maximising that class's F1 (a class
    without a known positive gets the global threshold); ``False``: one threshold for every
    class, maximising micro F1. Each threshold lies halfway between the lowest score predicted
    positive and the next lower score, so it does not sit on a validation score (the lowest
    score itself where the halfway point is infinite).

    >>> f1_optimal_thresholds([[0.75, 0.25], [0.5, 0.75], [0.25, 0.0]], [[1, 0], [1, 1], [0, 0]]).tolist()
    [0.375, 0.5]
    """
    scores, targets = _scores_and_targets(scores, targets)
    known = targets != -1
    if not bool((targets == 1).any()):
        raise ValueError("f1_optimal_thresholds needs at least one known positive")
    overall, _ = _best_f1_threshold(scores[known], targets[known] == 1)
    thresholds = torch.full((scores.shape[1],), overall, dtype=torch.float64)
    if per_class:
        for c in range(scores.shape[1]):
            column = known[:, c]
            if bool((targets[column, c] == 1).any()):
                thresholds[c], _ = _best_f1_threshold(scores[column, c], targets[column, c] == 1)
    return thresholds


def reliability_bins(probabilities, targets, bins: int = 10) -> ReliabilityBins:
    """Equal-width bins of the predicted probabilities of the known entries, with each bin's
    mean probability and observed frequency of positives (a reliability diagram's points).

    A bin holds the probabilities in [lower edge, upper edge), the last bin also 1.

    >>> r = reliability_bins([[0.1, 0.9], [0.2, 0.7]], [[0, 1], [1, 0]], bins=2)
    >>> r.confidence.tolist(), r.frequency.tolist(), r.count.tolist()
    ([0.15000000000000002, 0.8], [0.5, 0.5], [2, 2])
    """
    probabilities, targets = _scores_and_targets(probabilities, targets)
    _check_number(bins, "bins", "an integer >= 1", 1, integer=True)
    if bool((probabilities < 0).any() or (probabilities > 1).any()):
        raise ValueError("probabilities must lie in [0, 1] (apply a sigmoid to logits first)")
    known = targets != -1
    values, positive = probabilities[known].cpu().numpy(), (targets[known] == 1).cpu().numpy()
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.floor(values * bins).astype(int), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, weights=values, minlength=bins) / count
        frequency = np.bincount(index, weights=positive, minlength=bins) / count
    return ReliabilityBins(edges, confidence, frequency, count)


def expected_calibration_error(probabilities, targets, bins: int = 10) -> float:
    """ECE = sum_b (n_b / n) |frequency_b - confidence_b| over the equal-width bins of
    :func:`reliability_bins`: 0 for probabilities that match the observed frequencies.

    >>> expected_calibration_error([[0.1, 0.9], [0.2, 0.7]], [[0, 1], [1, 0]], bins=2)
    0.325
    """
    result = reliability_bins(probabilities, targets, bins)
    filled = result.count > 0
    gaps = np.abs(result.frequency[filled] - result.confidence[filled])
    return float(np.sum(result.count[filled] * gaps) / result.count.sum())


def pseudo_label_precision_recall(pseudo_targets, targets, true_targets, label: float = 0.0) -> PseudoLabelQuality:
    """How good pseudo-labels that assert ``label`` are (APL gives negatives, ``label=0``).

    ``pseudo_targets``: ``[N, C]``, NaN where no pseudo-label was given (the convention of the
    losses); pseudo-labels may only sit on unknown entries (``targets == -1``).
    precision = pseudo-labelled entries whose true label is ``label`` / pseudo-labelled entries;
    recall = the same count / unknown entries whose true label is ``label``; count = number of
    pseudo-labels. The EM supplement's Table 6 reports this precision for positive
    pseudo-labels (``label=1``).

    >>> pseudo = torch.tensor([[float("nan"), 0.1], [0.2, float("nan")]])
    >>> observed = torch.tensor([[1., -1.], [-1., -1.]])
    >>> truth = torch.tensor([[1., 0.], [1., 0.]])
    >>> pseudo_label_precision_recall(pseudo, observed, truth)
    PseudoLabelQuality(precision=0.5, recall=0.5, count=2)
    """
    if not (_is_number(label) and label in (0, 1)):
        raise ValueError(f"label must be 0 (negative pseudo-labels) or 1 (positive), got {label!r}")
    pseudo = _as_tensor(pseudo_targets, "pseudo_targets")
    targets, truth = _as_tensor(targets, "targets"), _as_tensor(true_targets, "true_targets")
    if not (pseudo.shape == targets.shape == truth.shape):
        raise ValueError("pseudo_targets, targets and true_targets must have the same shape")
    labelled = ~torch.isnan(pseudo)
    unknown = targets == -1
    if bool((labelled & ~unknown).any()):
        raise ValueError("a pseudo-label sits on a known entry (targets != -1)")
    correct = int((labelled & (truth == label)).sum())
    count, reachable = int(labelled.sum()), int((unknown & (truth == label)).sum())
    precision = correct / count if count else _undefined("pseudo-label precision")
    recall = correct / reachable if reachable else _undefined("pseudo-label recall")
    return PseudoLabelQuality(precision, recall, count)
