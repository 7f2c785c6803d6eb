"""Scoring trained runs on their test split, with the test-image resamples every verdict needs.

:func:`evaluation_logits` runs a trained model over the validation and test images once and
keeps the logits in the run's folder; :func:`test_scores` turns them into the statistics the
chapters compare (mAP@class, mAP@sample, mAP of class groups, in %), each with its values on
the shared bootstrap resamples of the test images (column ``<name>_boot``);
:func:`stored_score` keeps what a chapter's scoring function returns for a run in the run's
folder, keyed by the scoring code, so the status page and later builds read it instead of
scoring again; :func:`measurements` reads one method's statistic over its seeds out of a tidy
run table.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..data.splits import MultiLabelData
from ..metrics import average_precision
from ..train import RunResult
from ..train.cache import hash_key, load_state, save_atomic
from ..train.trainer import LOGITS
from .evidence import RESAMPLES, Measurements, class_ap_replicates, image_resamples, mean_replicates, sample_ap_values

__all__ = ["EVAL_LOGITS", "predict", "evaluation_logits", "test_scores", "score_path", "stored_score", "measurements", "BOOT"]

#: File of a run's folder holding its validation and test logits (the trainer writes it).
EVAL_LOGITS = LOGITS
#: Suffix of the column holding a statistic's test resamples in a run table.
BOOT = "_boot"
#: Bump when :func:`test_scores` computes differently, so stored scores are computed again.
SCORES_VERSION = 1


@torch.no_grad()
def predict(model: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 512, method: str = "forward") -> torch.Tensor:
    """``model`` (or ``getattr(model, method)``, e.g. ``"features"``) applied to ``inputs`` in
    chunks of ``batch_size``, in eval mode."""
    model.eval()
    function = getattr(model, method) if method != "forward" else model
    return torch.cat([function(chunk) for chunk in inputs.split(batch_size)])


def evaluation_logits(result: RunResult, data: MultiLabelData) -> dict[str, torch.Tensor]:
    """Validation and test logits of a run's selected model: those the trainer stored when it
    scored the model (computed here for a run stored without them)."""
    path = result.run_dir / EVAL_LOGITS
    stored = load_state(path)
    if stored is None:
        model = result.load_model()
        stored = {split: predict(model, getattr(data, split).inputs) for split in ("val", "test")}
        save_atomic(stored, path)
    return stored


def test_scores(result: RunResult, data: MultiLabelData, groups: dict[str, list[int]] | None = None) -> dict:
    """The run's test mAP@class and mAP@sample in % (and the mAP of each class group of
    ``groups``, e.g. head / medium / tail), each with ``<name>_boot``: its values on the
    shared resamples of the test images (:func:`~mlteach.reproduce.evidence.image_resamples`).
    Stored in the run's folder, so the status page reads what the chapter computed."""
    key = hash_key({"groups": groups, "resamples": RESAMPLES, "version": SCORES_VERSION})
    path = result.run_dir / f"test_scores-{key}.pt"
    stored = load_state(path)
    if stored is not None:
        return {name: value.numpy() if isinstance(value, torch.Tensor) else value for name, value in stored.items()}
    logits = evaluation_logits(result, data)["test"]
    targets = data.test.targets
    resamples = image_resamples(len(targets))
    per_class = class_ap_replicates(logits, targets, resamples) * 100  # [R, C]
    per_sample = sample_ap_values(logits, targets) * 100
    scores = {"mAP_class": average_precision(logits, targets) * 100,
              "mAP_class" + BOOT: np.nanmean(per_class, axis=1),
              "mAP_sample": float(np.nanmean(per_sample)),
              "mAP_sample" + BOOT: mean_replicates(per_sample, resamples)}
    for name, members in (groups or {}).items():
        point = class_ap_replicates(logits, targets, torch.arange(len(targets))[None])[0, members] * 100
        scores[name] = float(np.nanmean(point))
        scores[name + BOOT] = np.nanmean(per_class[:, members], axis=1)
    save_atomic({name: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
                 for name, value in scores.items()}, path)
    return scores


test_scores.__test__ = False  # a scoring function, not a test: pytest must not collect it


@functools.lru_cache(maxsize=None)
def _source_hash(module: str) -> str:
    """Hash of the source files a scoring function of ``module`` depends on: that module, this
    one and :mod:`~mlteach.reproduce.evidence` (the run's own key already covers the model, the
    metrics, the losses and the trainer)."""
    digest = hashlib.sha256()
    for name in (module, __name__, f"{__package__}.evidence"):
        digest.update(Path(sys.modules[name].__file__).read_bytes())
    return digest.hexdigest()[:20]


def _storable(value):
    """``value`` in a form ``torch.load(weights_only=True)`` reads back: arrays as tensors, NumPy
    scalars as Python numbers."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return value.item() if isinstance(value, np.generic) else value


def score_path(score: Callable[[RunResult, MultiLabelData], dict], result: RunResult) -> Path | None:
    """Where :func:`stored_score` keeps ``score``'s values for ``result``: a file of the run's
    folder named by the function and the source of its module, so a change of the scoring code
    scores again and a stale file is never read. ``None`` for a function whose code is not in
    its module's file (one defined in a notebook cell, a partial): such a score is never stored."""
    code, module = getattr(score, "__code__", None), sys.modules.get(getattr(score, "__module__", ""))
    if code is None or code.co_filename != getattr(module, "__file__", None):
        return None
    key = hash_key({"score": f"{score.__module__}.{score.__qualname__}", "code": _source_hash(score.__module__),
                    "resamples": RESAMPLES})
    return result.run_dir / f"scores-{key}.pt"


def stored_score(score: Callable[[RunResult, MultiLabelData], dict], result: RunResult,
                 data: MultiLabelData) -> dict:
    """``score(result, data)`` (a dict of numbers, strings and arrays), computed once and then read
    from the run's folder (:func:`score_path`)."""
    path = score_path(score, result)
    if path is None:
        return score(result, data)
    stored = load_state(path)
    if stored is None:
        computed = score(result, data)
        save_atomic({name: _storable(value) for name, value in computed.items()}, path)
        return computed
    return {name: value.numpy() if isinstance(value, torch.Tensor) else value for name, value in stored.items()}


def measurements(runs: pd.DataFrame, column: str, **where) -> Measurements:
    """One statistic of the runs matching ``where`` (column = value), ordered by seed, with its
    test resamples when the table has a ``<column>_boot`` column."""
    mask = pd.Series(True, index=runs.index)
    for key, value in where.items():
        mask &= runs[key] == value
    chosen = runs.loc[mask].sort_values("seed")
    if chosen.empty:
        raise ValueError(f"measurements: no runs match {where}")
    if chosen["seed"].duplicated().any():
        raise ValueError(f"measurements: several runs per seed match {where}; narrow the selection")
    boot = column + BOOT
    replicates = np.stack(chosen[boot].to_list()) if boot in chosen else None
    return Measurements(chosen[column].to_numpy(dtype=float), replicates, tuple(int(s) for s in chosen["seed"]))
