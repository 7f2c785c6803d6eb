"""Figures of the data chapter, reused by later chapters: example mosaics, class counts with
head / medium / tail colours, co-occurrence matrices and what each label regime shows the
learner. Each function draws on a matplotlib ``Axes`` (or a new figure) and returns the figure.
"""

from __future__ import annotations

import textwrap

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from mlteach.data.splits import LabelledSplit

GROUP_COLOURS = {"head": "#1b9e77", "medium": "#d95f02", "tail": "#7570b3"}
COMPOSITION_COLOURS = {"known positive": "#1b9e77", "known negative": "#7f7f7f", "unknown": "#e7b000"}


def set_book_style() -> None:
    """Seaborn's white-grid theme on an opaque white figure, legible in light and dark pages."""
    sns.set_theme(style="whitegrid", context="notebook",
                  rc={"figure.facecolor": "white", "savefig.facecolor": "white"})


def _label_text(row: torch.Tensor, class_names: Sequence[str]) -> str:
    present = [class_names[c] for c in torch.nonzero(row == 1).flatten().tolist()]
    return "{" + ", ".join(present) + "}"


def plot_mosaic_examples(split: LabelledSplit, class_names: Sequence[str], count: int = 8,
                         columns: int = 4) -> plt.Figure:
    """The first ``count`` images of a split, each titled with its label set (grey digits dark
    on white; colour images, e.g. digit scenes, as they are, on black)."""
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < min(count, len(split)):
            image = split.inputs[index]
            if image.shape[0] == 3:
                low, high = float(split.inputs.min()), float(split.inputs.max())
                ax.imshow(((image - low) / (high - low)).permute(1, 2, 0).numpy(), interpolation="nearest")
            else:
                ax.imshow(image[0].numpy(), cmap="gray_r", interpolation="nearest")
            ax.set_title("\n".join(textwrap.wrap(_label_text(split.true_targets[index], class_names), 22)), fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_counts(class_counts: Sequence[int] | torch.Tensor, class_names: Sequence[str],
                      groups: dict[str, list[int]] | None = None, thresholds: dict[str, float] | None = None,
                      title: str = "", ax: plt.Axes | None = None) -> plt.Figure:
    """Training images per class; bars coloured by head / medium / tail when ``groups`` is given,
    with the group thresholds (``head_min``, ``tail_below``) as dashed lines."""
    counts = np.asarray(class_counts, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    group_of = {c: name for name, members in (groups or {}).items() for c in members}
    frame = pd.DataFrame({"class": list(class_names), "images": counts,
                          "group": [group_of.get(c, "all") for c in range(len(counts))]})
    palette = {**GROUP_COLOURS, "all": "#4c72b0"}
    sns.barplot(frame, x="class", y="images", hue="group", palette=palette, dodge=False, ax=ax,
                legend=groups is not None)
    for name, value in (thresholds or {}).items():
        ax.axhline(value, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"{name} = {value:g}", (len(counts) - 0.5, value), ha="right", va="bottom", fontsize=9)
    ax.set(title=title, xlabel="class", ylabel="training images")
    return ax.figure


def plot_cooccurrence(matrix: torch.Tensor, class_names: Sequence[str], title: str = "",
                      ax: plt.Axes | None = None) -> plt.Figure:
    """Heat map of P(column class present | row class present), values printed in the cells."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.4))
    sns.heatmap(pd.DataFrame(matrix.numpy(), index=class_names, columns=class_names), vmin=0, vmax=1,
                cmap="viridis", annot=True, fmt=".2f", annot_kws={"fontsize": 7}, square=True,
                cbar_kws={"label": "P(column | row)"}, ax=ax)
    ax.set(title=title, xlabel="class j (also present)", ylabel="class i (present)")
    return ax.figure


def plot_label_composition(statistics: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Figure:
    """Stacked bars per column of a :func:`~mlteach.data.regimes.label_statistics_table`: known
    positive, known negative and unknown labels per training image."""
    rows = {"known positive": "known positives per image", "known negative": "known negatives per image",
            "unknown": "unknown labels per image"}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.6 + 0.55 * statistics.shape[1]))
    left = np.zeros(statistics.shape[1])
    names = list(statistics.columns)
    for kind, row in rows.items():
        values = statistics.loc[row].to_numpy(dtype=float)
        ax.barh(names, values, left=left, color=COMPOSITION_COLOURS[kind], label=kind)
        left += values
    ax.invert_yaxis()
    ax.set(xlabel="labels per training image")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    return ax.figure
