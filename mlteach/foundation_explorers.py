"""Explorers of the two foundation pages, built on :class:`mlteach.explore.Explorer` (a live
view in a kernel, a kernel-free twin in the book):

- :func:`threshold_explorer`: a threshold slider over the micro precision, recall and F1 of
  two methods' probabilities (the metrics page);
- :func:`numerics_explorer`: a logit-scale slider and a dtype switch over the BCE of a
  positive computed exactly, in log space and in two naive forms (the numerics page).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from .explore import Explorer
from .metrics import predict_labels, prediction_scores
from .numerics import DTYPES, loss_curves

__all__ = ["threshold_curves", "threshold_explorer", "numerics_explorer"]


def threshold_curves(probabilities: torch.Tensor, targets, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Micro precision, recall and F1 of ``probabilities >= t`` for every ``t`` of ``thresholds``."""
    scores = [prediction_scores(predict_labels(probabilities, float(t)), targets) for t in thresholds]
    return {name: np.array([getattr(s, field) for s in scores])
            for name, field in (("precision", "precision"), ("recall", "recall"), ("F1", "micro_f1"))}


def threshold_explorer(probabilities: Mapping[str, torch.Tensor], targets,
                       thresholds=np.round(np.arange(0.05, 0.951, 0.05), 2)) -> Explorer:
    """Micro precision, recall and F1 against the threshold for two methods, with a slider that
    moves a marker along the threshold axis and reads the three numbers there."""
    if len(probabilities) != 2:
        raise ValueError(f"threshold_explorer compares two methods, got {list(probabilities)}")
    x = np.linspace(0.0, 0.96, 49)  # above, few labels are predicted and precision is noise
    curves = {name: threshold_curves(values, targets, x) for name, values in probabilities.items()}
    first = next(iter(probabilities))

    def at_threshold(threshold: float) -> dict:
        result = {f"{name} {metric}": values for name, by_metric in curves.items()
                  for metric, values in by_metric.items()}
        result["threshold"] = threshold
        for name, values in probabilities.items():
            scores = prediction_scores(predict_labels(values, threshold), targets)
            result.update({f"{name}: precision": scores.precision, f"{name}: recall": scores.recall,
                           f"{name}: F1": scores.micro_f1})
        return result

    return Explorer(at_threshold, {"threshold": thresholds}, x, title="Precision, recall and F1 against the threshold",
                    xlabel="threshold on the predicted probability", ylabel="micro score",
                    param_labels={"threshold": "threshold t"}, initial={"threshold": 0.5}, ylim=(0.0, 1.0),
                    x_markers={"threshold": f"{first} F1"},
                    description="Micro precision, recall and F1 of two methods as the threshold on the "
                                "predicted probability moves from 0 to 1; a dashed line marks the slider's threshold.")


def numerics_explorer(scales=tuple(float(v) for v in np.round(np.logspace(0, 4, 13), 1))) -> Explorer:
    """The BCE of a positive divided by the logit scale, on logits ``s u`` for u in [-1, 1]:
    exact, in log space and in two naive forms, in the dtype the switch selects (0 float32,
    1 float16, 2 bfloat16). A NaN or infinity leaves a gap."""
    names = list(DTYPES)
    x = np.linspace(-1.0, 1.0, 61)

    def curves(scale: float, dtype: int) -> dict:
        result = loss_curves(scale, names[dtype], points=x.size)
        for name in ("-log(σ(x) + 1e-8)", "log(1 + exp(-x))", "softplus(-x) (log space)"):
            result[f"{name}: NaN or inf"] = float(np.sum(~np.isfinite(result[name])))
        return result

    return Explorer(curves, {"scale": list(scales), "dtype": [0, 1, 2]}, x,
                    title="The BCE of a positive, -log σ(x), computed four ways",
                    xlabel="u (the logit is x = s u)", ylabel="loss / s",
                    param_labels={"scale": "logit scale s", "dtype": "dtype: 0 float32, 1 float16, 2 bfloat16"},
                    initial={"scale": 10.0, "dtype": 0}, ylim=(-0.05, 1.45), max_bytes=150_000,
                    description="The loss of a positive label divided by the logit scale, against u = x / s, "
                                "computed exactly, in log space and in two naive forms, in the chosen dtype; "
                                "a naive form that overflows leaves a gap.")
