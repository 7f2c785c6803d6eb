"""Label regimes: which of the true labels the learner gets to see.

A regime maps a :class:`~mlteach.data.splits.MultiLabelData` to a new one whose ``targets``
hold the observed labels (1 positive, 0 negative, -1 unknown) while ``true_targets`` keep the
complete ground truth. By default only the training split is changed, so validation and test
stay fully labelled; pass ``splits=("train", "val")`` for a validation set observed under the
same regime (as in the single-positive benchmark of Cole et al., 2021). Regimes compose: each
starts from the current ``targets``; :func:`apply_full` restores the truth.

- full: every label known.
- partial: each known label is hidden independently with probability ``q``, one value for every
  class or one per class. The Large Loss Matters paper (Kim et al., 2022) studies partially
  observed labels, artificially reduced on VOC / COCO / NUS-WIDE / CUB and real on OpenImages V3
  (its supplement, Table 2), where how often a class is annotated depends on the class;
  :func:`annotation_groups` splits the classes into groups by how often they are annotated,
  as that table's columns G1-G5 do.
- single positive (EM/APL, Zhou et al. 2022; Cole et al. 2021): one known positive per sample,
  chosen uniformly among its positives, every other label unknown.

:func:`label_statistics` and :func:`label_statistics_table` summarise what a regime leaves,
in the style of Table 4 of the EM paper's supplement (classes, images per split, positive and
negative labels per training image), with the unknown and hidden-positive counts added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd
import torch

from mlteach.data.splits import LabelledSplit, MultiLabelData

__all__ = ["apply_full", "apply_partial", "apply_single_positive", "annotation_groups", "label_statistics",
           "label_statistics_table"]

SPLIT_NAMES = ("train", "val", "test")
UNKNOWN = -1.0


def _check_splits(splits: Sequence[str]) -> None:
    unknown = [name for name in splits if name not in SPLIT_NAMES]
    if unknown or isinstance(splits, str):
        raise ValueError(f"splits must be a sequence of names from {SPLIT_NAMES}, got {splits!r}")


def _with_targets(split: LabelledSplit, targets: torch.Tensor) -> LabelledSplit:
    return LabelledSplit(split.inputs, targets, split.true_targets, dict(split.extra))


def _rebuild(data: MultiLabelData, changed: dict[str, LabelledSplit], regime: dict) -> MultiLabelData:
    splits = {name: changed.get(name, getattr(data, name)) for name in SPLIT_NAMES}
    meta = dict(data.meta, regimes=[*data.meta.get("regimes", []), regime])
    return replace(data, **splits, meta=meta)


def apply_full(data: MultiLabelData) -> MultiLabelData:
    """Every split observes its true labels."""
    changed = {name: _with_targets(getattr(data, name), getattr(data, name).true_targets.clone())
               for name in SPLIT_NAMES}
    return _rebuild(data, changed, {"regime": "full"})


def apply_partial(data: MultiLabelData, q: float | Sequence[float], seed: int = 0,
                  splits: Sequence[str] = ("train",)) -> MultiLabelData:
    """Hide each known label (positive or negative) independently with probability ``q``: one
    number for every class, or a sequence of one per class (a class-dependent annotation regime,
    like OpenImages' real partial labels, where some classes are annotated far more often).

    >>> from mlteach.data.mosaics import make_digit_mosaics
    >>> data = apply_partial(make_digit_mosaics(n_train=400, n_val=10, n_test=10), q=0.5)
    >>> round(float((data.train.targets == -1).float().mean()), 1)
    0.5
    >>> bool((data.test.targets == data.test.true_targets).all())
    True
    >>> uneven = apply_partial(make_digit_mosaics(n_train=2000, n_val=10, n_test=10), q=[0.9] * 5 + [0.1] * 5)
    >>> [round(share, 1) for share in (uneven.train.targets == -1).double().mean(0).tolist()]
    [0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1]
    """
    _check_splits(splits)
    classes = data.train.targets.shape[1]
    per_class = not isinstance(q, (int, float))
    rates = torch.as_tensor(list(q) if per_class else [q] * classes, dtype=torch.float64)
    if isinstance(q, bool) or rates.shape != (classes,) or not bool(((rates >= 0) & (rates <= 1)).all()):
        raise ValueError(f"q must be a probability in [0, 1] or one per class ({classes}), got {q!r}")
    generator = torch.Generator().manual_seed(seed)
    changed = {}
    for name in splits:
        split = getattr(data, name)
        hide = torch.rand(split.targets.shape, generator=generator) < rates.float()
        changed[name] = _with_targets(split, split.targets.masked_fill(hide, UNKNOWN))
    return _rebuild(data, changed, {"regime": "partial", "q": rates.tolist() if per_class else q, "seed": seed,
                                    "splits": list(splits)})


def annotation_groups(split: LabelledSplit, count: int = 5) -> dict[str, list[int]]:
    """The classes in ``count`` groups of (nearly) equal size by how many of the split's labels of
    the class are known: ``G1`` the least annotated classes ... ``G<count>`` the most, as the
    columns of the Large Loss supplement's Table 2 (OpenImages).

    >>> from mlteach.data.mosaics import make_digit_mosaics
    >>> data = apply_partial(make_digit_mosaics(n_train=500, n_val=10, n_test=10), q=[0.1 * c for c in range(10)])
    >>> annotation_groups(data.train)
    {'G1': [9, 8], 'G2': [7, 6], 'G3': [5, 4], 'G4': [3, 2], 'G5': [1, 0]}
    """
    classes = split.targets.shape[1]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= classes:
        raise ValueError(f"count must be an integer from 1 to the number of classes ({classes}), got {count!r}")
    known = (split.targets != UNKNOWN).sum(0)
    order = sorted(range(classes), key=lambda c: (int(known[c]), c))
    return {f"G{g + 1}": [int(c) for c in part] for g, part in enumerate(_split_evenly(order, count))}


def _split_evenly(items: list[int], count: int) -> list[list[int]]:
    size, extra = divmod(len(items), count)
    parts, start = [], 0
    for g in range(count):
        end = start + size + (g < extra)
        parts.append(items[start:end])
        start = end
    return parts


def apply_single_positive(data: MultiLabelData, seed: int = 0,
                          splits: Sequence[str] = ("train",)) -> MultiLabelData:
    """Keep one known positive per sample, chosen uniformly; all other labels become unknown.

    A sample without any known positive cannot be given one, so it is dropped from the split
    (with its ``extra`` rows); ``meta["single_positive_dropped"]`` counts the drops per split.
    Digit mosaics and yeast have no such sample, so nothing is dropped there.

    >>> from mlteach.data.mosaics import make_digit_mosaics
    >>> data = apply_single_positive(make_digit_mosaics(n_train=100, n_val=10, n_test=10))
    >>> data.train.targets.eq(1).sum(1).unique().tolist(), data.meta["single_positive_dropped"]
    ([1], {'train': 0})
    """
    _check_splits(splits)
    generator = torch.Generator().manual_seed(seed)
    changed, dropped = {}, {}
    for name in splits:
        split = getattr(data, name)
        positive = split.targets == 1
        keep = positive.any(dim=1)
        # A uniform random key per positive entry; the largest key in a row is a uniform choice.
        keys = torch.rand(positive.shape, generator=generator).masked_fill(~positive, -1.0)
        chosen = keys.argmax(dim=1)
        targets = torch.full_like(split.targets, UNKNOWN)
        targets[torch.arange(len(split)), chosen] = 1.0
        changed[name] = LabelledSplit(split.inputs[keep], targets[keep], split.true_targets[keep],
                                      {key: value[keep] for key, value in split.extra.items()})
        dropped[name] = int((~keep).sum())
    result = _rebuild(data, changed, {"regime": "single positive", "seed": seed, "splits": list(splits)})
    result.meta["single_positive_dropped"] = dropped
    return result


def label_statistics(split: LabelledSplit) -> dict[str, float]:
    """Per-image label counts of one split: known positives / negatives, unknowns, true positives,
    hidden (unannotated) positives, plus the unknown fraction and the images without a known
    positive."""
    targets, truth = split.targets, split.true_targets
    n = max(len(split), 1)
    unknown = targets == UNKNOWN
    return {
        "images": len(split),
        "classes": split.num_classes,
        "known positives per image": float((targets == 1).sum()) / n,
        "known negatives per image": float((targets == 0).sum()) / n,
        "unknown labels per image": float(unknown.sum()) / n,
        "unknown fraction": float(unknown.float().mean()) if targets.numel() else float("nan"),
        "true positives per image": float((truth == 1).sum()) / n,
        "hidden positives per image": float((unknown & (truth == 1)).sum()) / n,
        "images without a known positive": int((~(targets == 1).any(dim=1)).sum()),
    }


def label_statistics_table(datasets: Mapping[str, MultiLabelData]) -> pd.DataFrame:
    """One column per named data set (or regime): classes, images per split and the training
    split's :func:`label_statistics` (so "per image" means per training image); the layout of
    Table 4 in the EM supplement.

    >>> from mlteach.data.mosaics import make_digit_mosaics
    >>> full = make_digit_mosaics(n_train=100, n_val=10, n_test=10)
    >>> table = label_statistics_table({"full": full, "single positive": apply_single_positive(full)})
    >>> table.loc["known positives per image", "single positive"]
    1.0
    """
    columns = {}
    for name, data in datasets.items():
        train = label_statistics(data.train)
        columns[name] = {
            "classes": train.pop("classes"),
            "training images": train.pop("images"),
            "validation images": len(data.val),
            "test images": len(data.test),
            **train,
        }
    return pd.DataFrame({name: pd.Series(column, dtype=object) for name, column in columns.items()})
