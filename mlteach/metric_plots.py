"""Figures of the metrics page: reliability diagrams and the F1 of the thresholding rules.
Each function draws on new axes (or the given ones) and returns the figure."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from .metrics import expected_calibration_error, reliability_bins

__all__ = ["plot_reliability", "plot_threshold_rules"]


def plot_reliability(probabilities: Mapping[str, torch.Tensor], targets, bins: int = 10) -> plt.Figure:
    """One reliability diagram per method: observed frequency of positives against the mean
    predicted probability of each bin (the diagonal is perfect calibration), with the share of
    entries per bin as bars and the ECE in the title."""
    fig, axes = plt.subplots(1, len(probabilities), figsize=(3.6 * len(probabilities), 3.6), sharey=True,
                             squeeze=False)
    for ax, (name, values) in zip(axes[0], probabilities.items()):
        result = reliability_bins(values, targets, bins)
        centres = (result.edges[:-1] + result.edges[1:]) / 2
        ax.bar(centres, result.count / result.count.sum(), width=1 / bins, color="#bbbbbb", edgecolor="white",
               label="share of entries")
        ax.plot([0, 1], [0, 1], color="#555555", linestyle="--", linewidth=1, label="calibrated")
        filled = result.count > 0
        ax.plot(result.confidence[filled], result.frequency[filled], marker="o", color="#0072b2",
                label="observed")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability",
               title=f"{name}: ECE {expected_calibration_error(values, targets, bins):.3f}")
    axes[0, 0].set_ylabel("frequency of positives")
    axes[0, 0].legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def plot_threshold_rules(table: pd.DataFrame, metric: str = "micro_f1", ax=None) -> plt.Figure:
    """Bars of ``metric`` for each (method, rule) of :func:`mlteach.metric_examples.rules_for_methods`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 3.4))
    sns.barplot(data=table, x="method", y=metric, hue="rule", ax=ax, palette="colorblind")
    low = float(np.floor(table[metric].min() * 20) / 20) - 0.05
    ax.set(ylim=(max(low, 0), None), ylabel=metric.replace("_", " "), xlabel="")
    ax.legend(title="labels from", fontsize="small", title_fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.figure.tight_layout()
    return ax.figure
