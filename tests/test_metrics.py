"""Metrics against scikit-learn on random inputs with ties and unknown (-1) targets."""

import math

import numpy as np
import pytest
import torch
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

from mlteach.metrics import (UndefinedMetricWarning, average_precision, class_average_precisions,
                             expected_calibration_error, f1_optimal_thresholds, f1_scores, group_average_precision,
                             predict_labels, predict_top_k, prediction_scores, pseudo_label_precision_recall,
                             reliability_bins)

SEEDS = range(12)


def _random_case(seed, n=60, c=7, unknown=0.2, levels=5):
    """Scores on a coarse grid (many ties) and targets with unknown entries; some classes or
    samples end up without a positive."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(n, c)) / levels
    targets = (rng.random((n, c)) < 0.3).astype(np.float64)
    targets[rng.random((n, c)) < unknown] = -1
    targets[:, 0] = np.where(targets[:, 0] == 1, 0, targets[:, 0])  # class 0: no positive
    return scores, targets


def _sklearn_ap_per_ranking(scores, targets):
    """AP of each row, computed by scikit-learn on the known entries; None without a positive."""
    result = []
    for s, t in zip(scores, targets):
        known = t != -1
        result.append(average_precision_score(t[known], s[known]) if (t[known] == 1).any() else None)
    return result


def _reference_mean(values, empty):
    if empty == "skip":
        return np.mean([v for v in values if v is not None])
    return np.mean([0.0 if v is None else v for v in values])


@pytest.mark.parametrize("empty", ["skip", "zero"])
@pytest.mark.parametrize("seed", SEEDS)
def test_map_at_class_equals_sklearn_per_class(seed, empty):
    scores, targets = _random_case(seed)
    expected = _reference_mean(_sklearn_ap_per_ranking(scores.T, targets.T), empty)
    result = average_precision(torch.tensor(scores), torch.tensor(targets), empty=empty)
    assert result == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("empty", ["skip", "zero"])
@pytest.mark.parametrize("seed", SEEDS)
def test_map_at_sample_equals_sklearn_per_sample(seed, empty):
    scores, targets = _random_case(seed, c=9)
    expected = _reference_mean(_sklearn_ap_per_ranking(scores, targets), empty)
    assert average_precision(scores, targets, average="sample", empty=empty) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_fully_known_labels_match_sklearn_macro_and_samples(seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(50, 6)).round(1)  # rounding makes ties
    targets = (rng.random((50, 6)) < 0.4).astype(int)
    targets[np.arange(6), np.arange(6)] = 1  # every class has a positive
    targets[targets.sum(1) == 0, 0] = 1  # every sample has a positive
    assert average_precision(scores, targets) == pytest.approx(
        average_precision_score(targets, scores, average="macro"), abs=1e-12)
    assert average_precision(scores, targets, average="sample") == pytest.approx(
        average_precision_score(targets, scores, average="samples"), abs=1e-12)


def test_ties_count_as_one_threshold():
    # All scores tied: one threshold, precision = share of positives.
    assert average_precision(np.full((5, 1), 0.3), np.array([[1], [0], [0], [1], [0]])) == pytest.approx(0.4)
    # A positive tied with a negative at the top gets precision 1/2, not 1 or 0 by position.
    assert average_precision(np.array([[0.9], [0.9], [0.1]]), np.array([[0], [1], [0]])) == pytest.approx(0.5)
    assert average_precision(np.array([[0.9], [0.9], [0.1]]), np.array([[1], [0], [0]])) == pytest.approx(0.5)


def test_unknown_entries_are_ignored_wherever_they_score():
    scores = np.array([[0.9], [0.8], [0.1]])
    base = average_precision(scores[1:], np.array([[1], [0]]))
    assert average_precision(scores, np.array([[-1], [1], [0]])) == base == 1.0
    assert average_precision(np.array([[0.8], [0.8], [0.1]]), np.array([[-1], [1], [0]])) == 1.0


def test_skip_and_zero_differ_by_the_empty_classes():
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.4, 0.3]])
    targets = np.array([[1, 0, -1], [0, 0, -1]])
    assert average_precision(scores, targets, empty="skip") == 1.0
    assert average_precision(scores, targets, empty="zero") == pytest.approx(1 / 3)
    assert np.isnan(class_average_precisions(scores, targets)[1:]).all()


def test_no_positive_anywhere_is_nan_with_a_warning():
    for average in ("class", "sample"):
        for empty in ("skip", "zero"):
            with pytest.warns(UndefinedMetricWarning, match="no known positive"):
                value = average_precision(np.random.rand(4, 3), np.array([[0, -1, 0]] * 4), average, empty)
            assert math.isnan(value)


def test_ap_depends_only_on_the_ranking_and_accepts_any_input_type():
    scores, targets = _random_case(3)
    reference = average_precision(scores, targets)
    assert average_precision(np.exp(3 * scores) - 7, targets) == pytest.approx(reference, abs=1e-12)
    assert average_precision(torch.tensor(scores, dtype=torch.float16), torch.tensor(targets)) == pytest.approx(
        reference, abs=1e-12)
    assert average_precision(scores.tolist(), targets.tolist()) == pytest.approx(reference, abs=1e-12)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        average_precision(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="targets must be"):
        average_precision(np.zeros((2, 2)), np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        average_precision(np.full((2, 2), np.nan), np.ones((2, 2)))
    with pytest.raises(ValueError, match="average"):
        average_precision(np.zeros((2, 2)), np.ones((2, 2)), average="micro")


@pytest.mark.parametrize("seed", SEEDS)
def test_f1_equals_sklearn_with_unknown_entries(seed):
    scores, targets = _random_case(seed, unknown=0.25, levels=10)
    known = targets != -1
    predicted = (scores >= 0.5).astype(int)
    expected_micro = f1_score(targets[known].astype(int), predicted[known], zero_division=0)
    expected_macro = np.mean([f1_score(targets[known[:, c], c].astype(int), predicted[known[:, c], c], zero_division=0)
                              for c in range(targets.shape[1])])
    result = f1_scores(scores, targets)
    assert result.micro == pytest.approx(expected_micro, abs=1e-12)
    assert result.macro == pytest.approx(expected_macro, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_f1_equals_sklearn_micro_and_macro_on_full_labels(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.random((40, 5))
    targets = (rng.random((40, 5)) < 0.35).astype(int)
    result = f1_scores(torch.tensor(probabilities), torch.tensor(targets), threshold=0.75)
    predicted = (probabilities >= 0.75).astype(int)
    assert result.micro == pytest.approx(f1_score(targets, predicted, average="micro", zero_division=0), abs=1e-12)
    assert result.macro == pytest.approx(f1_score(targets, predicted, average="macro", zero_division=0), abs=1e-12)


def test_f1_threshold_is_inclusive_and_empty_is_nan():
    assert f1_scores(np.array([[0.5, 0.49]]), np.array([[1, 1]])) == (2 / 3, 0.5)
    with pytest.warns(UndefinedMetricWarning):
        result = f1_scores(np.array([[0.9, 0.1]]), np.array([[0, -1]]))
    assert math.isnan(result.micro) and math.isnan(result.macro)


def test_group_average_precision_matches_per_class_sklearn():
    scores, targets = _random_case(5, c=6)
    counts = [500, 120, 60, 30, 10, 2]
    per_class = _sklearn_ap_per_ranking(scores.T, targets.T)
    result = group_average_precision(scores, targets, counts)
    expected = {"total": _reference_mean(per_class, "skip"),
                "head": _reference_mean([per_class[i] for i in (0, 1)], "skip"),
                "medium": _reference_mean([per_class[i] for i in (2, 3)], "skip"),
                "tail": _reference_mean([per_class[i] for i in (4, 5)], "skip")}
    assert per_class[0] is None  # the head group is averaged over class 1 alone
    assert result == pytest.approx(expected, abs=1e-12)
    scaled = group_average_precision(scores, targets, counts, head_min=50, tail_below=20)
    assert scaled["head"] == pytest.approx(_reference_mean([per_class[i] for i in (0, 1, 2)], "skip"))


def test_group_without_classes_is_nan_with_a_warning():
    scores, targets = _random_case(1, c=3)
    targets[:, 1:] = np.maximum(targets[:, 1:], 0)
    targets[0, 1:] = 1
    with pytest.warns(UndefinedMetricWarning, match="tail mAP"):
        result = group_average_precision(scores, targets, [500, 200, 50])
    assert math.isnan(result["tail"]) and not math.isnan(result["head"])
    with pytest.raises(ValueError, match="class counts"):
        group_average_precision(scores, targets, [1, 2])


def test_pseudo_label_precision_and_recall():
    nan = float("nan")
    targets = torch.tensor([[1.0, -1.0, -1.0, -1.0], [-1.0, 0.0, -1.0, -1.0]])
    truth = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]])
    pseudo = torch.tensor([[nan, 0.2, nan, 0.4], [0.1, nan, 0.3, nan]])
    negatives = pseudo_label_precision_recall(pseudo, targets, truth, label=0.0)
    # pseudo-labels on (0,1) neg, (0,3) pos, (1,0) neg, (1,2) pos; unknown negatives: (0,1), (0,2), (1,0), (1,3)
    assert negatives == (0.5, 0.5, 4)
    positives = pseudo_label_precision_recall(pseudo, targets, truth, label=1.0)
    assert positives == (0.5, 1.0, 4)
    with pytest.raises(ValueError, match="known entry"):
        pseudo_label_precision_recall(torch.zeros(2, 4), targets, truth)
    with pytest.warns(UndefinedMetricWarning):
        empty = pseudo_label_precision_recall(torch.full((2, 4), nan), targets, truth)
    assert math.isnan(empty.precision) and empty.count == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_per_class_thresholds_and_prediction_scores_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.random((40, 5))
    targets = (rng.random((40, 5)) < 0.35).astype(int)
    thresholds = rng.uniform(0.2, 0.8, size=5)
    predicted = (probabilities >= thresholds).astype(int)
    assert np.array_equal(predict_labels(probabilities, thresholds).numpy(), predicted.astype(bool))
    result = prediction_scores(predicted, targets)
    assert result.precision == pytest.approx(precision_score(targets, predicted, average="micro", zero_division=0))
    assert result.recall == pytest.approx(recall_score(targets, predicted, average="micro", zero_division=0))
    assert result.micro_f1 == pytest.approx(f1_score(targets, predicted, average="micro", zero_division=0))
    assert result.macro_f1 == pytest.approx(f1_score(targets, predicted, average="macro", zero_division=0))
    assert f1_scores(probabilities, targets, threshold=thresholds) == pytest.approx(
        (result.micro_f1, result.macro_f1))


def test_top_k_keeps_the_k_highest_scores_of_each_sample():
    scores = np.array([[0.1, 0.7, 0.3, 0.9], [5.0, -1.0, 2.0, 0.0]])
    assert predict_top_k(scores, 1).numpy().tolist() == [[False, False, False, True], [True, False, False, False]]
    assert predict_top_k(scores, 4).all()
    assert (predict_top_k(np.random.default_rng(0).random((30, 6)), 2).sum(1) == 2).all()


def _brute_force_best_f1(scores, positive, candidates):
    return max(f1_score(positive, scores >= t, zero_division=0) for t in candidates)


@pytest.mark.parametrize("seed", SEEDS)
def test_f1_optimal_thresholds_reach_the_best_f1_of_any_threshold(seed):
    scores, targets = _random_case(seed, n=50, c=5, unknown=0.2, levels=8)
    scores = scores + np.random.default_rng(seed).normal(0, 0.01, scores.shape) * (seed % 2)  # ties or not
    candidates = np.concatenate([np.unique(scores), [np.inf]])
    per_class = f1_optimal_thresholds(scores, targets).numpy()
    for c in range(1, 5):  # class 0 has no positive
        known = targets[:, c] != -1
        s, y = scores[known, c], targets[known, c] == 1
        assert f1_score(y, s >= per_class[c], zero_division=0) == pytest.approx(_brute_force_best_f1(s, y, candidates))
    known = targets != -1
    shared = f1_optimal_thresholds(scores, targets, per_class=False).numpy()
    assert np.all(shared == shared[0]) and per_class[0] == shared[0]
    s, y = scores[known], targets[known] == 1
    assert f1_score(y, s >= shared[0]) == pytest.approx(_brute_force_best_f1(s, y, candidates))


def test_f1_optimal_threshold_sits_between_scores():
    thresholds = f1_optimal_thresholds([[0.75, 0.25], [0.5, 0.75], [0.25, 0.0]], [[1, 0], [1, 1], [0, 0]])
    assert thresholds.tolist() == [0.375, 0.5]
    with pytest.raises(ValueError, match="at least one known positive"):
        f1_optimal_thresholds([[0.2]], [[0]])
    infinite = f1_optimal_thresholds([[np.inf], [3.0], [-np.inf]], [[1], [1], [0]])  # logits may be infinite
    assert infinite.tolist() == [3.0]
    assert f1_scores([[np.inf], [3.0], [-np.inf]], [[1], [1], [0]], threshold=infinite).micro == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_reliability_bins_equal_sklearn_calibration_curve(seed):
    rng = np.random.default_rng(seed)
    probabilities = rng.random((60, 4)) ** 2
    targets = (rng.random((60, 4)) < probabilities).astype(float)
    targets[rng.random((60, 4)) < 0.1] = -1
    known = targets != -1
    result = reliability_bins(probabilities, targets, bins=8)
    frequency, confidence = calibration_curve(targets[known], probabilities[known], n_bins=8, strategy="uniform")
    filled = result.count > 0
    assert result.count.sum() == known.sum()
    assert result.frequency[filled] == pytest.approx(frequency)
    assert result.confidence[filled] == pytest.approx(confidence)
    assert np.isnan(result.frequency[~filled]).all()
    expected = np.sum(result.count[filled] * np.abs(frequency - confidence)) / known.sum()
    assert expected_calibration_error(probabilities, targets, bins=8) == pytest.approx(expected)


def test_calibrated_probabilities_have_small_ece():
    rng = np.random.default_rng(0)
    probabilities = rng.random((4000, 5))
    calibrated = (rng.random((4000, 5)) < probabilities).astype(float)
    assert expected_calibration_error(probabilities, calibrated) < 0.02
    assert expected_calibration_error(probabilities, 1 - calibrated) > 0.4


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), -float("inf"), True, "0.5", [0.5, float("nan")],
                                       [0.5], [True, False]])
def test_bad_thresholds_are_refused_naming_the_parameter(threshold):
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        f1_scores(np.array([[0.9, 0.1]]), np.array([[1, 0]]), threshold=threshold)


@pytest.mark.parametrize("k", [0, 4, 1.5, True, float("nan")])
def test_bad_k_is_refused_naming_the_range(k):
    with pytest.raises(ValueError, match="k must be an integer from 1 to the number of classes 3"):
        predict_top_k(np.zeros((2, 3)), k)


@pytest.mark.parametrize("bins", [0, 2.5, True, float("inf")])
def test_bad_bins_and_probabilities_are_refused(bins):
    with pytest.raises(ValueError, match="bins must be an integer >= 1"):
        reliability_bins(np.full((2, 2), 0.5), np.ones((2, 2)), bins=bins)
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        reliability_bins(np.full((2, 2), 1.5), np.ones((2, 2)))


def test_predictions_must_be_zero_or_one():
    with pytest.raises(ValueError, match="predicted must hold 0 or 1"):
        prediction_scores(np.full((2, 2), 0.5), np.ones((2, 2)))


@pytest.mark.parametrize("counts", [[500, -1, 5], [500, float("nan"), 5], [500, float("inf"), 5], [True, False, True],
                                    ["a", "b", "c"]])
def test_group_average_precision_refuses_bad_class_counts(counts):
    scores, targets = _random_case(2, c=3)
    with pytest.raises(ValueError, match="class_counts must be a sequence of finite numbers >= 0"):
        group_average_precision(scores, targets, counts)


@pytest.mark.parametrize("name", ["head_min", "tail_below"])
@pytest.mark.parametrize("value", [float("nan"), -1.0, True, float("inf")])
def test_group_average_precision_refuses_bad_group_thresholds(name, value):
    scores, targets = _random_case(2, c=3)
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0"):
        group_average_precision(scores, targets, [500, 50, 5], **{name: value})


@pytest.mark.parametrize("label", [0.5, True, float("nan"), -1])
def test_pseudo_label_quality_refuses_a_label_other_than_zero_or_one(label):
    targets = torch.tensor([[1.0, -1.0]])
    with pytest.raises(ValueError, match="label must be 0 .* or 1"):
        pseudo_label_precision_recall(torch.tensor([[float("nan"), 0.2]]), targets, torch.tensor([[1.0, 0.0]]), label)
