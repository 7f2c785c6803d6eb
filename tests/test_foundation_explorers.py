"""The explorers of the metrics and numerics pages show what mlteach computes."""

import numpy as np
import pytest
import torch

from mlteach.foundation_explorers import numerics_explorer, threshold_curves, threshold_explorer
from mlteach.metrics import f1_scores, prediction_scores, predict_labels


@pytest.fixture(scope="module")
def two_methods():
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.rand(200, 6, generator=generator, dtype=torch.float64)
    targets = (torch.rand(200, 6, generator=generator, dtype=torch.float64) < probabilities).double()
    return {"calibrated": probabilities, "squared": probabilities ** 2}, targets


def test_threshold_curves_are_the_micro_scores(two_methods):
    probabilities, targets = two_methods
    curves = threshold_curves(probabilities["calibrated"], targets, np.array([0.25, 0.5]))
    assert curves["F1"][1] == pytest.approx(f1_scores(probabilities["calibrated"], targets).micro)
    low = prediction_scores(predict_labels(probabilities["calibrated"], 0.25), targets)
    assert (curves["precision"][0], curves["recall"][0]) == pytest.approx((low.precision, low.recall))
    assert curves["recall"][0] > curves["recall"][1] and curves["precision"][0] < curves["precision"][1]


def test_threshold_explorer_reads_the_scores_at_the_slider(two_methods):
    probabilities, targets = two_methods
    explorer = threshold_explorer(probabilities, targets)
    frame = explorer.frames[explorer._frame_index({"threshold": 0.3})]
    expected = prediction_scores(predict_labels(probabilities["squared"], 0.3), targets)
    assert frame.readouts["squared: F1"] == pytest.approx(expected.micro_f1)
    assert frame.readouts["threshold"] == pytest.approx(0.3)
    assert 'type="range"' in explorer.html and "squared recall" in explorer.html
    with pytest.raises(ValueError, match="compares two methods"):
        threshold_explorer({"a": probabilities["calibrated"]}, targets)


def test_numerics_explorer_shows_the_naive_forms_breaking_in_half_precision():
    explorer = numerics_explorer()
    assert explorer.names == ["scale", "dtype"]
    float32 = explorer.frames[explorer._frame_index({"scale": 10.0, "dtype": 0})].readouts
    float16 = explorer.frames[explorer._frame_index({"scale": 1000.0, "dtype": 1})].readouts
    assert all(value == 0 for value in float32.values())
    assert float16["log(1 + exp(-x)): NaN or inf"] > 0 and float16["-log(σ(x) + 1e-8): NaN or inf"] > 0
    assert float16["softplus(-x) (log space): NaN or inf"] == 0
    assert len(explorer.html.encode()) < 150_000
