"""The worked examples of the metrics page: the yeast models it scores, the same scores shifted
per class or per sample, per-batch mAP, and the four ways of turning scores into labels.

Each function calls :mod:`mlteach.metrics`; nothing here defines a metric of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .data.splits import MultiLabelData
from .metrics import (average_precision, f1_optimal_thresholds, f1_scores, predict_labels, predict_top_k,
                      prediction_scores)
from .train import TrainConfig, train_all

__all__ = ["YEAST_LOSSES", "ScoredSplits", "yeast_config", "yeast_scores", "every_metric", "metric_ranks",
           "shift_scores", "per_batch_average_precision", "threshold_rules", "rules_for_methods",
           "typical_label_count"]

#: The losses the page compares: BCE (probabilities by construction) and two ranking losses
#: (scores that only order the labels).
YEAST_LOSSES = {"BCE": ("bce_loss", {}), "two-way": ("two_way_loss", {}), "LSEP": ("lsep_loss", {})}


@dataclass(frozen=True)
class ScoredSplits:
    """Logits of one trained model on the validation and test splits."""

    val: torch.Tensor
    test: torch.Tensor


def yeast_config(loss: str, loss_kwargs: Mapping | None = None, seed: int = 0) -> TrainConfig:
    """A linear classifier on the yeast table: 10 epochs, about a second on one core."""
    return TrainConfig(loss=loss, loss_kwargs=dict(loss_kwargs or {}), model="mlp", model_kwargs={"hidden": ()},
                       epochs=10, batch_size=128, lr=1e-2, seed=seed, device="cpu", progress=False)


def yeast_scores(data: MultiLabelData, losses: Mapping[str, tuple[str, Mapping]] = YEAST_LOSSES,
                 seed: int = 0) -> dict[str, ScoredSplits]:
    """Train (or load from the run cache) one linear model per loss and return its logits on
    the validation and test splits, by the names of ``losses``."""
    configs = [yeast_config(loss, kwargs, seed) for loss, kwargs in losses.values()]
    results = train_all(configs, data, workers=1, progress=False)
    scored = {}
    for name, result in zip(losses, results):
        model = result.load_model()
        with torch.no_grad():
            scored[name] = ScoredSplits(model(data.val.inputs.float()), model(data.test.inputs.float()))
    return scored


def every_metric(logits, targets, threshold: float = 0.5) -> dict[str, float]:
    """One set of scores measured every way the page discusses: mAP@class and mAP@sample with
    empty classes (samples) skipped or counted as 0, micro and macro F1 of ``sigmoid(logits) >=
    threshold``."""
    logits = torch.as_tensor(logits)
    f1 = f1_scores(torch.sigmoid(logits), targets, threshold)
    return {"mAP@class": average_precision(logits, targets),
            "mAP@class (empty = 0)": average_precision(logits, targets, empty="zero"),
            "mAP@sample": average_precision(logits, targets, average="sample"),
            "micro F1": f1.micro, "macro F1": f1.macro}


def metric_ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Rank of each method (row) under each metric (column), 1 = best."""
    return table.rank(ascending=False, method="min").astype(int)


def shift_scores(logits: torch.Tensor, per: str, size: float = 2.0, seed: int = 0) -> torch.Tensor:
    """``logits`` plus a random offset, N(0, size^2), shared by each class (``per="class"``: a
    column keeps its order, so mAP@class is unchanged) or by each sample (``per="sample"``:
    mAP@sample is unchanged)."""
    generator = torch.Generator().manual_seed(seed)
    if per == "class":
        offset = size * torch.randn(1, logits.shape[1], generator=generator, dtype=logits.dtype)
    elif per == "sample":
        offset = size * torch.randn(logits.shape[0], 1, generator=generator, dtype=logits.dtype)
    else:
        raise ValueError(f"per must be 'class' or 'sample', got {per!r}")
    return logits + offset


def per_batch_average_precision(scores, targets, batch_size: int, empty: str = "skip") -> float:
    """mAP@class computed on consecutive batches of ``batch_size`` samples and averaged over
    the batches, as some training scripts report it; a class without a positive in a batch is
    skipped or counted as 0 in that batch (``empty``)."""
    scores, targets = torch.as_tensor(scores), torch.as_tensor(targets)
    values = []
    for start in range(0, len(scores), batch_size):
        batch = targets[start:start + batch_size]
        if bool((batch == 1).any()):
            values.append(average_precision(scores[start:start + batch_size], batch, empty=empty))
    return float(np.mean(values))


def threshold_rules(val_logits, val_targets, test_logits, test_targets, k: int) -> pd.DataFrame:
    """Test precision, recall, micro and macro F1 of four ways to turn scores into labels: the
    fixed threshold 0.5 on sigmoid probabilities, one threshold and one per class chosen to
    maximise F1 on validation, and the top ``k`` labels of each sample."""
    val_p, test_p = torch.sigmoid(torch.as_tensor(val_logits)), torch.sigmoid(torch.as_tensor(test_logits))
    predictions = {
        "0.5": predict_labels(test_p, 0.5),
        "global (validation)": predict_labels(test_p, f1_optimal_thresholds(val_p, val_targets, per_class=False)),
        "per class (validation)": predict_labels(test_p, f1_optimal_thresholds(val_p, val_targets)),
        f"top-{k}": predict_top_k(test_p, k),
    }
    return pd.DataFrame({rule: prediction_scores(predicted, test_targets)._asdict()
                         for rule, predicted in predictions.items()}).T


def rules_for_methods(scored: Mapping[str, ScoredSplits], data: MultiLabelData, k: int) -> pd.DataFrame:
    """:func:`threshold_rules` for every method, in one long table (method, rule, metric)."""
    tables = []
    for name, splits in scored.items():
        table = threshold_rules(splits.val, data.val.targets, splits.test, data.test.targets, k)
        tables.append(table.rename_axis("rule").reset_index().assign(method=name))
    return pd.concat(tables, ignore_index=True)



def typical_label_count(targets: torch.Tensor) -> int:
    """The rounded mean number of positive labels per sample (the k of top-k)."""
    return max(1, int(round(float((torch.as_tensor(targets) == 1).sum(1).double().mean()))))

