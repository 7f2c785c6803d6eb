"""The worked examples of the metrics page: shifts that each mAP ignores, per-batch mAP, the
thresholding rules."""

import pytest
import torch

from mlteach.metric_examples import (every_metric, metric_ranks, per_batch_average_precision, shift_scores,
                                     threshold_rules, typical_label_count)
from mlteach.metrics import average_precision, f1_optimal_thresholds, predict_labels, prediction_scores


@pytest.fixture(scope="module")
def scores_and_targets():
    generator = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(80, 6, generator=generator, dtype=torch.float64)
    targets = (torch.rand(80, 6, generator=generator, dtype=torch.float64) < torch.sigmoid(logits)).double()
    return logits, targets


def test_each_shift_leaves_its_own_map_unchanged(scores_and_targets):
    logits, targets = scores_and_targets
    base = every_metric(logits, targets)
    by_class = every_metric(shift_scores(logits, "class"), targets)
    by_sample = every_metric(shift_scores(logits, "sample"), targets)
    assert by_class["mAP@class"] == pytest.approx(base["mAP@class"])
    assert by_sample["mAP@sample"] == pytest.approx(base["mAP@sample"])
    assert by_class["mAP@sample"] != pytest.approx(base["mAP@sample"])
    assert by_sample["mAP@class"] != pytest.approx(base["mAP@class"])
    with pytest.raises(ValueError, match="per must be"):
        shift_scores(logits, "batch")


def test_per_batch_map_averages_the_batches(scores_and_targets):
    logits, targets = scores_and_targets
    expected = sum(average_precision(logits[i:i + 20], targets[i:i + 20], empty="zero") for i in range(0, 80, 20)) / 4
    assert per_batch_average_precision(logits, targets, 20, empty="zero") == pytest.approx(expected)
    assert per_batch_average_precision(logits, targets, 80) == pytest.approx(average_precision(logits, targets))


def test_threshold_rules_score_each_rule_on_test(scores_and_targets):
    logits, targets = scores_and_targets
    val, test = slice(0, 40), slice(40, 80)
    table = threshold_rules(logits[val], targets[val], logits[test], targets[test], k=2)
    assert list(table.index) == ["0.5", "global (validation)", "per class (validation)", "top-2"]
    thresholds = f1_optimal_thresholds(torch.sigmoid(logits[val]), targets[val])
    expected = prediction_scores(predict_labels(torch.sigmoid(logits[test]), thresholds), targets[test])
    assert table.loc["per class (validation)", "micro_f1"] == pytest.approx(expected.micro_f1)
    assert table.loc["0.5", "macro_f1"] == pytest.approx(every_metric(logits[test], targets[test])["macro F1"])


def test_ranks_and_typical_label_count():
    import pandas as pd
    table = pd.DataFrame({"a": [0.5, 0.7], "b": [0.9, 0.1]}, index=["m1", "m2"])
    assert metric_ranks(table).to_dict() == {"a": {"m1": 2, "m2": 1}, "b": {"m1": 1, "m2": 2}}
    assert typical_label_count(torch.tensor([[1, 1, 0], [1, 1, 1], [0, 1, -1]])) == 2
