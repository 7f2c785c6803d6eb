"""Figure of the numerics page: the error of each naive form and its log-space twin against the
logit scale, per dtype, with the scales where a form gives NaN or infinity marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .numerics import DTYPES, PATTERNS

__all__ = ["plot_error_sweep"]

DTYPE_COLOURS = {"float32": "#0072b2", "float16": "#d55e00", "bfloat16": "#009e73"}
FLOOR, BROKEN = 1e-9, 1e3  # errors below FLOOR are drawn at it; NaN or inf is drawn at BROKEN


def plot_error_sweep(sweep: pd.DataFrame, columns: int = 3) -> plt.Figure:
    """One panel per pattern: error against logit scale (log-log), naive forms solid, log-space
    forms dashed, one colour per dtype; a NaN or infinity is drawn in the shaded band at the top."""
    patterns = [p.name for p in PATTERNS if p.name in set(sweep.pattern)]
    rows = -(-len(patterns) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.1 * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, pattern in zip(axes.flat, patterns):
        ax.axhspan(BROKEN / 3, BROKEN * 3, color="#f2c4c4", zorder=0)
        for (form, dtype), part in sweep[sweep.pattern == pattern].groupby(["form", "dtype"], sort=False):
            values = np.where(part.broken, BROKEN, np.clip(part.error, FLOOR, None))
            ax.plot(part.scale, values, color=DTYPE_COLOURS[dtype], linestyle="-" if form == "naive" else "--",
                    linewidth=1.8 if form == "naive" else 1.2, label=f"{form}, {dtype}")
        naive = next(p.naive_label for p in PATTERNS if p.name == pattern)
        ax.set(xscale="log", yscale="log", title=f"{pattern}\nnaive: {naive}", ylim=(FLOOR / 3, BROKEN * 3))
        ax.title.set_fontsize("small")
        ax.text(1.2, BROKEN, "NaN / inf", fontsize="x-small", va="center")
    for ax in axes.flat[len(patterns):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("logit scale s")
    for ax in axes[:, 0]:
        ax.set_ylabel("error")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i].split(",")[0] != "naive",
                                                      list(DTYPES).index(labels[i].split(", ")[1])))
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="lower center", ncol=3,
               fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
