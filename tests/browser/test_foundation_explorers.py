"""The explorers of the metrics and numerics pages in a browser with the network cut off: the
keyboard moves a slider and the readouts show what ``mlteach`` computes there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlteach.data import make_yeast
from mlteach.metric_examples import yeast_scores
from mlteach.metrics import predict_labels, prediction_scores
from mlteach.numerics import loss_curves

from .test_explorers import readout, set_slider

pytestmark = pytest.mark.browser


def test_the_threshold_slider_reads_precision_recall_and_f1(site_url, offline_page):
    page = offline_page.goto(f"{site_url}/notebooks/ch1_metrics.html")
    explorer = page.locator("div.mlx").first
    yeast = make_yeast(seed=0)
    probabilities = torch.sigmoid(yeast_scores(yeast)["two-way"].test)
    for threshold in (0.5, 0.3, 0.8):
        set_slider(explorer, "threshold", threshold)
        expected = prediction_scores(predict_labels(probabilities, threshold), yeast.test.targets)
        for name, value in (("precision", expected.precision), ("recall", expected.recall), ("F1", expected.micro_f1)):
            assert float(readout(explorer, f"two-way: {name}")) == pytest.approx(value, rel=1e-3)
    assert offline_page.errors == [] and offline_page.blocked == []


def test_the_dtype_switch_shows_the_naive_forms_breaking(site_url, offline_page):
    page = offline_page.goto(f"{site_url}/notebooks/ch1_numerics.html")
    explorer = page.locator("div.mlx").first
    set_slider(explorer, "scale", 1000.0)
    for dtype, name in enumerate(("float32", "float16", "bfloat16")):
        set_slider(explorer, "dtype", dtype)
        curves = loss_curves(1000.0, name)
        for form in ("-log(σ(x) + 1e-8)", "log(1 + exp(-x))", "softplus(-x) (log space)"):
            expected = int(np.sum(~np.isfinite(curves[form])))
            assert float(readout(explorer, f"{form}: NaN or inf")) == expected
    assert float(readout(explorer, "log(1 + exp(-x)): NaN or inf")) > 0  # bfloat16 at s = 1000
    assert offline_page.errors == [] and offline_page.blocked == []
