"""Checkers of the metrics page: F1 in terms of counts to derive, mAP@class and per-class
thresholds to implement.

- :func:`check_f1_from_counts`: F1 as a function of the true positives ``t``, the number of
  predicted positives ``n`` and the number of positives ``P`` (SymPy);
- :func:`check_average_precision`: ``my_average_precision(scores, targets)``, mAP@class,
  against :func:`mlteach.metrics.average_precision`;
- :func:`check_per_class_thresholds`: ``my_thresholds(scores, targets)``, one threshold per
  class that maximises the class's F1, against the best F1 any threshold reaches.
"""

from __future__ import annotations

import math

import sympy as sp
import torch

from mlteach.metrics import average_precision

from .feedback import CheckResult, Failure, call, run_cases
from .symbolic import check_expression

__all__ = ["f1_count_symbols", "check_f1_from_counts", "check_average_precision", "check_per_class_thresholds"]


def f1_count_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """The exercise's symbols (positive): true positives ``t``, predicted positives ``n``,
    positives ``P``."""
    return sp.symbols("t n P", positive=True)


def check_f1_from_counts(expr) -> CheckResult:
    """Check a SymPy expression for F1, the harmonic mean of precision t / n and recall t / P."""
    t, n, positives = f1_count_symbols()
    precision, recall = t / n, t / positives
    mistakes = [
        ((precision + recall) / 2, "that is the arithmetic mean of precision and recall; F1 is their harmonic "
                                   "mean, 2 / (1 / precision + 1 / recall)."),
        (t / (n + positives), "the harmonic mean has a factor 2: F1 = 2 t / (n + P)."),
        (precision * recall, "that is the product of precision and recall; F1 is their harmonic mean."),
        (2 * t / (t + n), "the denominator is n + P (predicted positives plus actual positives): "
                          "1 / precision + 1 / recall = (n + P) / t."),
    ]
    return check_expression(expr, 2 * precision * recall / (precision + recall), [t, n, positives],
                            exercise="F1 from counts", mistakes=mistakes,
                            ranges={"t": (1.0, 5.0), "n": (5.0, 9.0), "P": (5.0, 9.0)})


_AP_CALL = ("your function must accept (scores, targets), two [N, C] tensors, and return mAP@class as a number; "
            "read the traceback of a call on these inputs.")


def _position_ap(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """mAP@class with ties broken by position (a plain sort), the mistake the tie case catches."""
    values = []
    for c in range(scores.shape[1]):
        known = targets[:, c] != -1
        s, y = scores[known, c], targets[known, c] == 1
        if not bool(y.any()):
            continue
        hits = y[torch.argsort(s, descending=True, stable=True)].double()
        precision = torch.cumsum(hits, 0) / torch.arange(1, len(hits) + 1)
        values.append(float((precision * hits).sum() / hits.sum()))
    return sum(values) / len(values)


def _ap_case(scores, targets, hint: str):
    def case(fn):
        value = call(fn, scores.clone(), targets.clone(), on_error=_AP_CALL)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise Failure(f"returned {type(value).__name__}", "return mAP@class as a number (a float or a 0-dim "
                                                              "tensor).") from None
        expected = average_precision(scores, targets)
        if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):  # float32 answers are fine
            known_as_negative = average_precision(scores, targets.clamp(min=0))
            per_sample = average_precision(scores, targets, average="sample")
            zero = average_precision(scores, targets, empty="zero")
            if math.isclose(value, known_as_negative, rel_tol=1e-6) and known_as_negative != expected:
                specific = ("you counted unknown entries (target -1) as negatives; leave them out of each "
                            "class's ranking.")
            elif math.isclose(value, per_sample, rel_tol=1e-6) and per_sample != expected:
                specific = ("that is mAP@sample (each row ranked); mAP@class ranks each column: the samples, "
                            "for one class.")
            elif math.isclose(value, zero, rel_tol=1e-6) and zero != expected:
                specific = "a class without a positive is left out of the mean, not counted as AP 0."
            elif math.isclose(value, _position_ap(scores, targets), rel_tol=1e-6):
                specific = ("tied scores cross a threshold together: a positive tied with negatives gets the "
                            "precision measured after the whole group of ties, not by its position in the sort.")
            else:
                specific = hint
            raise Failure(f"mAP@class {value:.6g}, expected {expected:.6g}", specific)
        return f"mAP@class {value:.4f}"
    return case


def check_average_precision(my_average_precision) -> CheckResult:
    """Check ``my_average_precision(scores, targets)``: mAP@class over the classes with a known
    positive, unknown entries (-1) left out, tied scores counted together."""
    generator = torch.Generator().manual_seed(0)
    distinct = torch.rand(12, 4, generator=generator, dtype=torch.float64)
    full = (torch.rand(12, 4, generator=generator) < 0.4).double()
    full[0] = 1.0
    tied = (torch.randint(0, 4, (15, 3), generator=generator) / 4).double()
    tied_targets = (torch.rand(15, 3, generator=generator) < 0.4).double()
    tied_targets[0] = 1.0
    unknown = full.clone()
    unknown[torch.rand(12, 4, generator=generator) < 0.3] = -1.0
    unknown[0] = 1.0
    empty = full.clone()
    empty[:, 2] = 0.0
    definition = "AP of a class = mean over its positives of the precision among the samples scoring at least as high."
    cases = {
        "distinct scores, full labels": _ap_case(distinct, full, definition),
        "one class without a positive": _ap_case(distinct, empty, definition),
        "unknown entries (-1)": _ap_case(distinct, unknown, definition),
        "tied scores": _ap_case(tied, tied_targets, definition),
        "a 30 x 8 batch with ties and unknown entries": _ap_case(
            (torch.randint(0, 6, (30, 8), generator=generator) / 6).double(),
            torch.randint(-1, 2, (30, 8), generator=generator).double(), definition),
    }
    return run_cases("mAP@class", my_average_precision, cases)


_THRESHOLD_CALL = ("your function must accept (scores, targets), two [N, C] tensors, and return a tensor of C "
                   "thresholds; read the traceback of a call on these inputs.")


def _best_class_f1(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """The largest F1 of ``scores >= t`` over every threshold t (every score, and above all)."""
    best = 0.0
    for t in [*scores.unique().tolist(), math.inf]:
        predicted = scores >= t
        tp = float((predicted & positive).sum())
        best = max(best, 2 * tp / (float(predicted.sum()) + float(positive.sum())))
    return best


def _threshold_case(scores, targets):
    def case(fn):
        thresholds = call(fn, scores.clone(), targets.clone(), on_error=_THRESHOLD_CALL)
        thresholds = torch.as_tensor(thresholds, dtype=torch.float64)
        if thresholds.shape != (scores.shape[1],):
            raise Failure(f"returned shape {tuple(thresholds.shape)}",
                          f"return one threshold per class: a tensor of shape ({scores.shape[1]},).")
        if not bool(torch.isfinite(thresholds).all()):
            raise Failure("a threshold is NaN or infinite", "every threshold must be a finite number; a class "
                                                            "without a positive can take any finite value.")
        gaps = []
        for c in range(scores.shape[1]):
            known = targets[:, c] != -1
            positive = targets[known, c] == 1
            if not bool(positive.any()):
                continue
            predicted = scores[known, c] >= thresholds[c]
            f1 = 2 * float((predicted & positive).sum()) / (float(predicted.sum()) + float(positive.sum()))
            best = _best_class_f1(scores[known, c], positive)
            if f1 < best - 1e-12:
                gaps.append(f"class {c}: F1 {f1:.3f} < best {best:.3f}")
        if gaps:
            shared = len(set(thresholds.tolist())) == 1
            raise Failure("; ".join(gaps[:3]),
                          "you used one threshold for every class; choose each class's own, from its column."
                          if shared else
                          "for each class, try every distinct score s of its known entries as the threshold "
                          "(predict scores >= s) and keep the one with the highest F1 = 2 TP / (predicted + "
                          "positives); unknown entries (-1) take no part.")
        return "every class reaches its best F1"
    return case


def check_per_class_thresholds(my_thresholds) -> CheckResult:
    """Check ``my_thresholds(scores, targets)``: for each class, a threshold t_c such that
    predicting ``scores[:, c] >= t_c`` gives the highest F1 any threshold gives on these
    (validation) scores; unknown entries (-1) are left out."""
    generator = torch.Generator().manual_seed(1)
    scores = torch.rand(40, 5, generator=generator, dtype=torch.float64)
    targets = (torch.rand(40, 5, generator=generator, dtype=torch.float64) < scores).double()
    targets[0] = 1.0
    tied = (torch.randint(0, 5, (40, 5), generator=generator) / 5).double()
    unknown = targets.clone()
    unknown[torch.rand(40, 5, generator=generator) < 0.3] = -1.0
    unknown[0] = 1.0
    shifted = scores + torch.tensor([0.0, 0.3, -0.3, 0.6, -0.6], dtype=torch.float64)  # classes on other scales
    empty = targets.clone()
    empty[:, 4] = 0.0
    cases = {
        "random scores": _threshold_case(scores, targets),
        "classes on different score scales": _threshold_case(shifted, targets),
        "tied scores": _threshold_case(tied, targets),
        "unknown entries (-1)": _threshold_case(scores, unknown),
        "a class without a positive": _threshold_case(scores, empty),
    }
    return run_cases("per-class F1 thresholds", my_thresholds, cases)
