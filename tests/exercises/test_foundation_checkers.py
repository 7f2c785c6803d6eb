"""The checkers of the metrics and numerics exercise pages: typical wrong answers fail with the
hint that names the mistake (the references and stubs are checked with every other checker in
``test_checkers.py``)."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from mlteach.exercises.metrics import (check_average_precision, check_f1_from_counts, check_per_class_thresholds,
                                       f1_count_symbols)
from mlteach.exercises.numerics import check_epsilon_log_gradient, check_masked_logsumexp, epsilon_symbols
from mlteach.metrics import average_precision, f1_optimal_thresholds
from mlteach.numerics import constant_masked_logsumexp, masked_logsumexp
from mlteach.symbolic.functions import sigmoid


def _position_ties_ap(scores, targets):
    """mAP@class with ties broken by the order of a plain sort."""
    values = []
    for c in range(scores.shape[1]):
        known = targets[:, c] != -1
        s, y = scores[known, c], (targets[known, c] == 1).double()
        if y.sum() == 0:
            continue
        hits = y[torch.argsort(s, descending=True, stable=True)]
        values.append(float((torch.cumsum(hits, 0) / torch.arange(1, len(hits) + 1) * hits).sum() / hits.sum()))
    return sum(values) / len(values)


def _naive_lse(values, member, dim):
    return torch.log((member * values.exp()).sum(dim))


def _half_constant_mask(values, member, dim):
    return constant_masked_logsumexp(values, member, constant=1e12, dim=dim)


WRONG_ANSWERS = [
    (check_average_precision, lambda s, y: average_precision(s, y.clamp(min=0)), "counted unknown entries"),
    (check_average_precision, lambda s, y: average_precision(s, y, average="sample"), "that is mAP@sample"),
    (check_average_precision, lambda s, y: average_precision(s, y, empty="zero"), "not counted as AP 0"),
    (check_average_precision, _position_ties_ap, "tied scores cross a threshold together"),
    (check_per_class_thresholds, lambda s, y: f1_optimal_thresholds(s, y, per_class=False), "one threshold for every"),
    (check_per_class_thresholds, lambda s, y: torch.full((s.shape[1],), 0.5, dtype=torch.float64),
     "one threshold for every class"),
    (check_per_class_thresholds, lambda s, y: f1_optimal_thresholds(s, y.clamp(min=0)), "unknown entries (-1) take no"),
    (check_per_class_thresholds, lambda s, y: torch.zeros(3), "return one threshold per class"),
    (check_masked_logsumexp, lambda v, m, d: constant_masked_logsumexp(v, m, 100.0, d), "a finite mask constant"),
    (check_masked_logsumexp, _naive_lse, "never exponentiate before the log"),
    (check_masked_logsumexp, lambda v, m, d: constant_masked_logsumexp(v, m, 1e4, d), "a finite mask constant"),
    (check_masked_logsumexp, _half_constant_mask, "log-sum-exp of an empty set is -inf"),
    (check_masked_logsumexp, lambda v, m, d: masked_logsumexp(v, m, 1 - d), "return one value per line"),
    (check_masked_logsumexp, lambda v, m, d: masked_logsumexp(v.detach(), m, d), "so autograd can follow"),
]


@pytest.mark.parametrize("checker, answer, hint", WRONG_ANSWERS)
def test_a_typical_wrong_answer_fails_with_the_hint_that_names_it(checker, answer, hint):
    result = checker(answer)
    assert result.status == "failed", repr(result)
    assert hint in result.hint, repr(result)


def test_the_masked_checker_names_the_float16_nan():
    result = check_masked_logsumexp(_half_constant_mask)
    failed = {case.name: case for case in result.cases if not case.passed}
    assert "float16 values" in failed and "0 * inf = NaN" in failed["float16 values"].hint


def test_symbolic_checkers_accept_the_answer_and_name_the_mistakes():
    t, n, positives = f1_count_symbols()
    assert check_f1_from_counts(2 * t / (n + positives)).passed
    assert check_f1_from_counts(2 * (t / n) * (t / positives) / (t / n + t / positives)).passed
    assert "arithmetic mean" in check_f1_from_counts((t / n + t / positives) / 2).hint
    assert "factor 2" in check_f1_from_counts(t / (n + positives)).hint
    x, eps = epsilon_symbols()
    s = sigmoid(x)
    assert check_epsilon_log_gradient(-s * (1 - s) / (s + eps)).passed
    assert check_epsilon_log_gradient(sp.diff(-sp.log(s + eps), x)).passed
    assert "without the epsilon" in check_epsilon_log_gradient(s - 1).hint
    assert "chain rule" in check_epsilon_log_gradient(-1 / (s + eps)).hint
    assert check_epsilon_log_gradient(None).status == "not implemented"


def test_a_nan_answer_is_reported_not_raised():
    result = check_masked_logsumexp(lambda v, m, d: torch.full(v.shape[:d] + v.shape[d + 1:], math.nan))
    assert result.status == "failed" and not result.cases[0].passed
