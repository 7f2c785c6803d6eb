"""Digit scenes: a many-class, sparse-label image set with natural co-occurrence (80 classes).

The papers' claims concern 20 to 80 classes with one to three objects per image (Table 4 of the
EM supplement: 1.46 positives of 20 classes per VOC image, 2.94 of 80 per COCO image). Ten
digit classes with two or three digits per mosaic are far denser. Digit scenes keep real
handwritten digits and make the label space COCO-sized:

- a **class** is a digit drawn in one of eight ink colours (:data:`INKS`): "red 3", "cyan 7",
  so 10 x 8 = 80 classes; telling them apart needs both the shape and the colour;
- a **scene** is a 3 x 3 grid of 8 x 8 cells (24 x 24 RGB images); each image first draws a
  *scene type* (one of ``scene_types``, like "kitchen" or "street" in COCO), then a number of
  distinct objects (1 plus a Poisson count, so about ``mean_objects`` classes per image), each
  from the scene type's class preferences: a few typical classes per scene type, every class
  possible. Classes that share scene types co-occur, as fork and knife do;
- a **long-tailed** training split (``long_tail=True``) multiplies each class's preference by
  :func:`coco_lt_profile` of its (random) rank: a curve through COCO-LT's facts (1,128 images
  for the largest class, 6 for the smallest, 22 classes of at least 100 and 25 below 20), so
  the head / medium / tail groups (COCO-LT's thresholds, 100 and 20 of 1,909 training images,
  scaled to the split size) come out near 22 / 33 / 25; validation and test stay balanced, as
  the LT benchmarks' test sets are.

Digit images are split into train / val / test pools before tiling (no image crosses splits),
as for :mod:`mlteach.data.mosaics`. Pixels are scaled to [0, 1] then standardised with the
training split's mean and standard deviation. The same arguments give the same data.
:func:`regime_statistics` measures what makes a regime paper-like (classes, labels per image,
hidden-positive share of the unknown labels, how often a class is missing from a batch);
:data:`PAPER_REGIMES` holds the papers' values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mlteach.data.long_tail import class_split
from mlteach.data.mosaics import BLANK, NUM_DIGIT_CLASSES, load_digit_pool, render_mosaics, split_digit_pool
from mlteach.data.splits import LabelledSplit, MultiLabelData

__all__ = ["COCO_LT_LIKE", "INKS", "SCENE_CLASS_NAMES", "DigitScenes", "make_digit_scenes", "coco_lt_profile", "regime_statistics", "PAPER_REGIMES",
           "regime_table"]

COCO_LT_TRAIN_IMAGES = 1909
#: The long-tailed variant's settings: COCO-LT's training size and about four objects per image,
#: which puts 22 / 31 / 27 of the 80 classes in the head / medium / tail groups (COCO-LT: 22 / 33 / 25).
COCO_LT_LIKE = dict(n_train=COCO_LT_TRAIN_IMAGES, long_tail=True, mean_objects=4.0)

#: The ink colours (RGB in [0, 1]); class ``k * 10 + d`` is digit ``d`` in ink ``k``.
INKS = {"white": (1.0, 1.0, 1.0), "red": (1.0, 0.2, 0.2), "green": (0.2, 1.0, 0.2), "blue": (0.3, 0.4, 1.0),
        "yellow": (1.0, 1.0, 0.2), "cyan": (0.2, 1.0, 1.0), "magenta": (1.0, 0.2, 1.0), "orange": (1.0, 0.55, 0.1)}
SCENE_CLASS_NAMES = [f"{ink} {digit}" for ink in INKS for digit in range(NUM_DIGIT_CLASSES)]

#: The papers' data sets: classes and positives per training image (EM supplement, Table 4),
#: training images and head / medium / tail classes of the long-tailed sets (DR paper, Sec. 4.1).
#: The hidden-positive share of a single-positive regime follows: (positives - 1) / (classes - 1).
PAPER_REGIMES = pd.DataFrame(
    {"VOC": [20, 1.46, 4574, None], "COCO": [80, 2.94, 65665, None], "NUS-WIDE": [81, 1.89, 120000, None],
     "CUB": [312, 31.4, 4795, None], "VOC-LT": [20, None, 1142, "6 / 6 / 8"], "COCO-LT": [80, None, 1909, "22 / 33 / 25"]},
    index=["classes", "positives per image", "training images", "head / medium / tail"], dtype=object)


@dataclass(frozen=True)
class DigitScenes:
    """Recipe of a digit-scene data set (see the module text); :meth:`build` returns the data.

    ``typical_classes`` classes per scene type get ``typical_weight`` times the preference of
    the others. ``long_tail`` False keeps the training split balanced.
    """

    source: str = "sklearn"
    n_train: int = 4000
    n_val: int = 1000
    n_test: int = 2000
    scene_types: int = 12
    typical_classes: int = 10
    typical_weight: float = 30.0
    mean_objects: float = 2.5
    long_tail: bool = False
    grid: tuple[int, int] = (3, 3)
    seed: int = 0

    def __post_init__(self):
        cells = self.grid[0] * self.grid[1]
        if not 1 <= self.mean_objects <= cells:
            raise ValueError(f"mean_objects must lie in [1, {cells}] (the cells of a {self.grid} grid), "
                             f"got {self.mean_objects}")
        if self.scene_types < 1 or not 1 <= self.typical_classes <= len(SCENE_CLASS_NAMES):
            raise ValueError("need scene_types >= 1 and 1 <= typical_classes <= 80, got "
                             f"{self.scene_types} and {self.typical_classes}")
        if self.typical_weight < 1:
            raise ValueError(f"need typical_weight >= 1, got {self.typical_weight}")
        if not isinstance(self.long_tail, bool):
            raise ValueError(f"long_tail must be True or False, got {self.long_tail!r}")

    def preferences(self, rng: np.random.Generator) -> np.ndarray:
        """``[scene_types, 80]`` class preferences (rows sum to 1), balanced over classes."""
        classes = len(SCENE_CLASS_NAMES)
        weights = np.ones((self.scene_types, classes))
        for row in weights:
            row[rng.choice(classes, self.typical_classes, replace=False)] = self.typical_weight
        return weights / weights.sum(axis=1, keepdims=True)

    def draw_cells(self, n: int, preferences: np.ndarray, class_weights: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
        """Cell contents ``[n, cells]``: the class of each object, -1 for blank cells."""
        cells = self.grid[0] * self.grid[1]
        scenes = rng.integers(0, self.scene_types, size=n)
        counts = np.minimum(1 + rng.poisson(self.mean_objects - 1, size=n), cells)
        output = np.full((n, cells), BLANK, dtype=np.int64)
        for i in range(n):
            p = preferences[scenes[i]] * class_weights
            chosen = rng.choice(len(p), size=counts[i], replace=False, p=p / p.sum())
            output[i, rng.choice(cells, size=counts[i], replace=False)] = chosen
        return output

    def build(self) -> MultiLabelData:
        rng = np.random.default_rng(self.seed)
        pools = split_digit_pool(load_digit_pool(self.source), 0.2, 0.2, rng)
        preferences = self.preferences(rng)
        classes = len(SCENE_CLASS_NAMES)
        balanced = np.ones(classes)
        tail = coco_lt_profile(classes)[rng.permutation(classes)] if self.long_tail else balanced
        splits, train_stats = [], None
        for name, pool, n, weights in zip(("train", "val", "test"), pools, (self.n_train, self.n_val, self.n_test),
                                          (tail, balanced, balanced)):
            cell_classes = self.draw_cells(n, preferences, weights, rng)
            gray, digit_ids = render_mosaics(np.where(cell_classes == BLANK, BLANK, cell_classes % NUM_DIGIT_CLASSES),
                                             pool, self.grid, rng)
            images = _colour(gray, cell_classes, self.grid)
            if train_stats is None:
                train_stats = (float(images.mean()), float(images.std()))
            labels = np.zeros((n, classes), dtype=np.float32)
            rows, cols = np.nonzero(cell_classes != BLANK)
            labels[rows, cell_classes[rows, cols]] = 1.0
            targets = torch.from_numpy(labels)
            splits.append(LabelledSplit(torch.from_numpy((images - train_stats[0]) / train_stats[1]), targets.clone(),
                                        targets, extra={"cell_labels": torch.from_numpy(cell_classes),
                                                        "digit_ids": torch.from_numpy(digit_ids)}))
        counts = splits[0].true_targets.sum(0).long()
        scale = self.n_train / COCO_LT_TRAIN_IMAGES  # COCO-LT's thresholds (100 and 20 images of 1,909), scaled
        thresholds = {"head_min": 100 * scale, "tail_below": 20 * scale}
        meta = dict(source=self.source, seed=self.seed, grid=self.grid, cell_size=tuple(pools[0].images.shape[1:]),
                    scene_types=self.scene_types, long_tail=self.long_tail,
                    pixel_mean=train_stats[0], pixel_std=train_stats[1], class_counts=counts.tolist(),
                    group_thresholds=thresholds, class_groups=class_split(counts, **thresholds),
                    description=f"{'long-tailed ' if self.long_tail else ''}3x3 scenes of {self.source} digits "
                                f"in 8 inks, 80 classes")
        return MultiLabelData(*splits, class_names=list(SCENE_CLASS_NAMES), meta=meta)


def coco_lt_profile(classes: int = 80) -> np.ndarray:
    """Relative class frequencies by rank, log-linear between COCO-LT's anchor points: the
    largest class 1,128 images, the 22nd about 100, the 55th about 20, the last 6 (DR paper,
    Sec. 4.1), stretched to ``classes`` ranks.

    >>> profile = coco_lt_profile()
    >>> int((profile >= 100).sum()), int((profile < 20).sum()), round(float(profile[0])), round(float(profile[-1]))
    (22, 25, 1128, 6)
    """
    anchors = np.array([0.0, 21.5, 54.5, 79.0]) * (classes - 1) / 79
    return np.exp(np.interp(np.arange(classes), anchors, np.log([1128.0, 100.0, 20.0, 6.0])))


def _colour(gray: np.ndarray, cell_classes: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """RGB images ``[N, 3, H, W]``: each cell's digit pixels times its class's ink."""
    n, _, height, width = gray.shape
    rows, cols = grid
    inks = np.asarray(list(INKS.values()), dtype=np.float32)  # [8, 3]
    cell_inks = inks[np.maximum(cell_classes, 0) // NUM_DIGIT_CLASSES]  # [N, cells, 3]
    per_pixel = cell_inks.reshape(n, rows, cols, 3).repeat(height // rows, axis=1).repeat(width // cols, axis=2)
    return np.ascontiguousarray(gray * per_pixel.transpose(0, 3, 1, 2))


def make_digit_scenes(**options) -> MultiLabelData:
    """Build digit scenes; keyword arguments are the fields of :class:`DigitScenes`.

    >>> data = make_digit_scenes(n_train=60, n_val=10, n_test=10)
    >>> tuple(data.train.inputs.shape), len(data.class_names)
    ((60, 3, 24, 24), 80)
    >>> bool((data.train.targets.sum(1) >= 1).all())
    True
    """
    return DigitScenes(**options).build()


def regime_statistics(split: LabelledSplit, batch_size: int = 32) -> dict[str, float]:
    """What makes a training split paper-like: classes, positives per image, the share of
    unknown labels that are hidden positives (under the split's own labels, and if every image
    kept one positive: (positives - 1) / (classes - 1)), and the share of (batch, class) pairs
    in which a class present in the split has no positive in a random batch of ``batch_size``."""
    truth = split.true_targets == 1
    unknown = split.targets == -1
    classes = split.num_classes
    per_image = float(truth.sum(1).float().mean())
    present = truth.any(0)
    frequency = truth[:, present].float().mean(0)
    return {"classes": int(classes), "positives per image": per_image,
            "hidden-positive share of unknown labels": float(truth[unknown].float().mean()) if unknown.any() else np.nan,
            "hidden-positive share, single positive": (per_image - 1) / (classes - 1),
            f"class missing from a batch of {batch_size}": float(((1 - frequency) ** batch_size).mean())}


def regime_table(datasets: dict[str, MultiLabelData], batch_size: int = 32,
                 papers: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`regime_statistics` of each data set's training split beside the papers' data sets
    (all of :data:`PAPER_REGIMES`, or those named in ``papers``; a dash where a paper gives no
    number)."""
    unknown = sorted(set(papers or ()) - set(PAPER_REGIMES.columns))
    if unknown:
        raise ValueError(f"regime_table: no paper data set {unknown}; choose from {list(PAPER_REGIMES.columns)}")
    ours = pd.DataFrame({name: regime_statistics(data.train, batch_size) for name, data in datasets.items()},
                        dtype=object)
    paper = PAPER_REGIMES.loc[["classes", "positives per image"], list(papers or PAPER_REGIMES.columns)].T
    paper["hidden-positive share, single positive"] = [
        (p - 1) / (c - 1) if p is not None else None for c, p in zip(paper["classes"], paper["positives per image"])]
    table = pd.concat([ours, paper.T], axis=1)
    table.loc["classes"] = table.loc["classes"].map(lambda v: int(v) if v is not None else v)
    return table.map(lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v))
                     else (f"{v:.3f}" if isinstance(v, float) else str(v)))
