"""Measurements of a statistic over seeds and test images, and the paired 95 % interval of a
difference between two methods.

A measured statistic (a test mAP, a share of false positives, a pseudo-label precision) varies
for two reasons: the training seed (initialisation, batch order, label draws) and the finite
test set. :class:`Measurements` holds, for every seed, the statistic on the whole test split
and, when the statistic depends on the test images, its value on ``R`` bootstrap resamples of
those images. The resamples are drawn once per test split (:func:`image_resamples`), so every
run on that split is scored on the same resampled images and two methods stay paired.

:func:`paired_interval` compares ``a`` with ``b``:

- effect ``d = mean_s a_s - mean_s b_s`` (seeds paired by position: same seeds, same data);
- seed term ``var_seed = var_s(a_s - b_s) / n`` (Welch's form when the sides are not paired);
- test term ``var_test = var_r(mean_s a_sr - mean_s b_sr)`` over the shared resamples;
- interval ``d +- t(0.975, n - 1) sqrt(var_seed + var_test)``.

The seed term already holds part of the test-set noise, so adding the test term errs on the
wide side; :func:`mlteach.reproduce.claims.false_holds_rate` measures what that costs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from ..metrics import ranking_average_precisions


__all__ = ["RESAMPLES", "Measurements", "Interval", "image_resamples", "resample_weights", "class_ap_replicates",
           "sample_ap_values", "mean_replicates", "paired_interval"]

#: Bootstrap resamples of the test images behind every test-set statistic.
RESAMPLES = 200


@dataclass(frozen=True)
class Measurements:
    """A statistic of one method: ``values[s]`` on the whole test split for each seed,
    ``replicates[s, r]`` on test resample ``r`` (None for statistics that do not depend on the
    test images, e.g. a training-set precision), and the ``seeds`` in order."""

    values: np.ndarray
    replicates: np.ndarray | None
    seeds: tuple[int, ...]

    def __post_init__(self):
        values = np.asarray(self.values, dtype=float)
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(f"Measurements: values must be a non-empty 1-D array, got shape {values.shape}")
        if len(self.seeds) != len(values):
            raise ValueError(f"Measurements: {len(values)} values but {len(self.seeds)} seeds")
        object.__setattr__(self, "values", values)
        if self.replicates is not None:
            replicates = np.asarray(self.replicates, dtype=float)
            if replicates.ndim != 2 or replicates.shape[0] != len(values):
                raise ValueError(f"Measurements: replicates must have shape [{len(values)}, R], "
                                 f"got {replicates.shape}")
            object.__setattr__(self, "replicates", replicates)

    @classmethod
    def of(cls, values, seeds=None, replicates=None) -> Measurements:
        """From plain sequences (seeds default to 0, 1, ...)."""
        values = np.asarray(values, dtype=float)
        seeds = tuple(range(len(values))) if seeds is None else tuple(int(s) for s in seeds)
        return cls(values, None if replicates is None else np.asarray(replicates, dtype=float), seeds)

    def mean(self) -> float:
        return float(self.values.mean())

    def summary(self, digits: int = 1) -> str:
        """``mean ± std`` over seeds (the value alone for one seed)."""
        if len(self.values) == 1:
            return f"{self.values[0]:.{digits}f}"
        return f"{self.values.mean():.{digits}f} ± {self.values.std(ddof=1):.{digits}f}"


@dataclass(frozen=True)
class Interval:
    """``effect`` with its 95 % interval ``[low, high]`` and the number of seeds behind it."""

    effect: float
    low: float
    high: float
    seeds: int


@functools.lru_cache(maxsize=16)
def _resamples(n: int, count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (count, n), generator=generator)


def image_resamples(n: int, count: int = RESAMPLES, seed: int = 0) -> torch.Tensor:
    """``[count, n]`` indices: bootstrap resamples (with replacement) of ``n`` test images,
    the same for every run scored on a split of that size."""
    if n < 1 or count < 1:
        raise ValueError(f"image_resamples: need n >= 1 and count >= 1, got n={n}, count={count}")
    return _resamples(int(n), int(count), int(seed))


def resample_weights(resamples: torch.Tensor, n: int) -> torch.Tensor:
    """``[R, n]``: how many times each of the ``n`` images is drawn in each resample."""
    weights = torch.zeros(len(resamples), n, dtype=torch.float64)
    return weights.scatter_add_(1, resamples, torch.ones_like(resamples, dtype=torch.float64))


#: Entries (resamples x images x classes) of one block of :func:`class_ap_replicates`: small
#: enough for its temporaries to be reused rather than mapped afresh (1.7 s -> 0.7 s for 200
#: resamples of 2,000 images x 80 classes, one thread).
BLOCK_ENTRIES = 1 << 18


def class_ap_replicates(scores: torch.Tensor, targets: torch.Tensor, resamples: torch.Tensor) -> np.ndarray:
    """Average precision of every class on every resample: ``[R, C]``, NaN where a resample
    holds no known positive of the class.

    ``scores``, ``targets`` ``[N, C]`` (targets 1 / 0, unknown -1 left out); ``resamples``
    ``[R, N]``. A resample is a set of weights ``w_i`` (how often image ``i`` is drawn), so each
    class is sorted once: with images in decreasing score order, ``TP_k = sum_{j <= k} w_j y_j``
    and ``K_k = sum_{j <= k} w_j`` read at the end of ``k``'s group of tied scores,

        AP = sum_k w_k y_k TP_k / K_k  /  sum_k w_k y_k,

    which is :func:`mlteach.metrics.average_precision` of the resampled column (ties as
    scikit-learn), so the identity resample gives the point estimate exactly.

    >>> s = torch.tensor([[0.9], [0.8], [0.1]]); t = torch.tensor([[1.0], [0.0], [1.0]])
    >>> class_ap_replicates(s, t, torch.tensor([[0, 1, 2], [0, 0, 1]])).round(4).tolist()
    [[0.8333], [1.0]]
    """
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ValueError(f"class_ap_replicates: scores and targets must be [N, C] alike, "
                         f"got {tuple(scores.shape)} and {tuple(targets.shape)}")
    scores, targets = scores.detach().double().cpu(), targets.detach().cpu()
    n, classes = scores.shape
    order = torch.argsort(scores, dim=0, descending=True)  # [N, C]: each class sorted once
    sorted_scores = torch.gather(scores, 0, order)
    hits = torch.gather((targets == 1).double(), 0, order)
    known = torch.gather((targets != -1).double(), 0, order)  # unknown entries weigh 0
    ends_group = torch.ones(n, classes, dtype=torch.bool)
    ends_group[:-1] = sorted_scores[1:] != sorted_scores[:-1]
    end_marks = torch.where(ends_group, torch.arange(n)[:, None], n)
    group_end = torch.cummin(end_marks.flip(0), dim=0).values.flip(0)  # [N, C]
    output = []
    for block in resamples.split(max(1, BLOCK_ENTRIES // (n * classes))):
        drawn = resample_weights(block, n)[:, order] * known  # [r, N, C]
        positive = drawn * hits
        true_positives = torch.cumsum(positive, dim=1).gather(1, group_end.expand(len(block), n, classes))
        ranked = torch.cumsum(drawn, dim=1).gather(1, group_end.expand(len(block), n, classes))
        count = positive.sum(dim=1)
        ap = (positive * true_positives / ranked.clamp_min(1e-12)).sum(dim=1) / count.clamp_min(1e-12)
        output.append(torch.where(count > 0, ap, torch.nan))
    return torch.cat(output).numpy()


def sample_ap_values(scores: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Average precision of every test image's class ranking ``[N]`` (NaN for an image
    without a positive): mAP@sample is their mean, so its resamples are cheap."""
    ap, has_positive = ranking_average_precisions(scores.detach().double().cpu(), targets.detach().cpu())
    return torch.where(has_positive, ap, torch.nan).numpy()


def mean_replicates(values, resamples: torch.Tensor) -> np.ndarray:
    """Mean of a per-image statistic ``values`` ``[N]`` on every resample ``[R]`` (NaN images
    left out)."""
    values = np.asarray(values, dtype=float)
    picked = values[resamples.numpy()]
    return np.nanmean(picked, axis=1)


def paired_interval(a: Measurements, b: Measurements, *, pooled_sd: tuple[float, int] | None = None,
                    level: float = 0.95) -> Interval:
    """The effect ``mean(a) - mean(b)`` with its ``level`` interval (see the module text).

    With the same seeds on both sides the seeds are paired; otherwise the sides are treated as
    independent (Welch). A side with a single seed has no seed spread of its own: pass
    ``pooled_sd = (sd, df)``, a seed-to-seed standard deviation measured on other methods of the
    same experiment and its degrees of freedom; without it the interval is infinite.

    >>> a = Measurements.of([71.0, 72.0, 70.5, 71.5, 72.5]); b = Measurements.of([69.0, 70.0, 68.0, 69.5, 70.5])
    >>> interval = paired_interval(a, b)
    >>> round(interval.effect, 2), bool(interval.low > 0), interval.seeds
    (2.1, True, 5)
    """
    effect = a.mean() - b.mean()
    n_a, n_b = len(a.values), len(b.values)
    if a.seeds == b.seeds and n_a > 1:
        differences = a.values - b.values
        var_seed, df = differences.var(ddof=1) / n_a, n_a - 1
    elif n_a > 1 and n_b > 1:
        va, vb = a.values.var(ddof=1) / n_a, b.values.var(ddof=1) / n_b
        var_seed = va + vb
        df = var_seed ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1)) if var_seed > 0 else n_a + n_b - 2
    elif pooled_sd is not None:
        sd, df = pooled_sd
        var_seed = sd ** 2 * (1 / n_a + 1 / n_b)
    else:
        return Interval(effect, -math.inf, math.inf, min(n_a, n_b))
    var_test = 0.0
    if a.replicates is not None and b.replicates is not None:
        if a.replicates.shape[1] != b.replicates.shape[1]:
            raise ValueError("paired_interval: both sides need the same test resamples")
        resampled = np.nanmean(a.replicates, axis=0) - np.nanmean(b.replicates, axis=0)
        var_test = float(np.nanvar(resampled, ddof=1))
    half = stats.t.ppf(0.5 + level / 2, max(df, 1)) * math.sqrt(var_seed + var_test)
    return Interval(effect, effect - half, effect + half, min(n_a, n_b))
