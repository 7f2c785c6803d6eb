"""The one experiment layer of the reproduction chapters: planned runs in, one tidy run table out.

A chapter declares its experiments as a list of :class:`Run` (data set, experiment, method,
setting, seed, training configuration); :func:`run_table` trains what the run cache lacks (in
parallel, :func:`mlteach.train.train_all`), scores every run with the chapter's ``score``
function (in the worker processes too, once per run and scoring code:
:func:`~mlteach.reproduce.evaluation.stored_score`) and returns one row per run with the same leading columns in every chapter:

    dataset, experiment, method, setting, seed, run_key, val_mAP_class, selected_epoch,
    train_seconds, <the score columns>

Score columns that depend on the test images come with a ``<name>_boot`` column holding
their values on the shared test resamples (:mod:`mlteach.reproduce.evaluation`), which is
what :func:`~mlteach.reproduce.evaluation.measurements` and
:func:`~mlteach.reproduce.claims.compare` need. Seed policies are plain tuples, e.g.
``HEADLINE_SEEDS`` for the comparisons a chapter's claims rest on, and ``CONTROL_SEEDS`` for
the A/A controls (the same method again on seeds no other run uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd

from ..data.splits import MultiLabelData
from ..train import RunResult, TrainConfig, train_all
from ..train.parallel import map_in_processes
from .evaluation import score_path, stored_score

__all__ = ["Run", "RUN_COLUMNS", "HEADLINE_SEEDS", "SWEEP_SEEDS", "CONTROL_SEEDS", "run_table", "run_results",
           "control_runs"]

#: Seeds of the comparisons that a chapter's headline claims rest on (at least 5).
HEADLINE_SEEDS = (0, 1, 2, 3, 4)
#: Seeds of sweeps and ablations (fewer runs; their intervals are wider for it).
SWEEP_SEEDS = (0, 1, 2)
#: Seeds of the A/A controls: the control method trained again on seeds no other run uses,
#: paired by position with :data:`HEADLINE_SEEDS`.
CONTROL_SEEDS = (100, 101, 102, 103, 104)

#: Leading columns of every run table.
RUN_COLUMNS = ("dataset", "experiment", "method", "setting", "seed", "run_key", "val_mAP_class",
               "selected_epoch", "train_seconds")


@dataclass(frozen=True)
class Run:
    """One planned training run. ``setting``: the swept value in words ("Tp = 4"), empty when
    the run has none."""

    dataset: str
    experiment: str
    method: str
    seed: int
    config: TrainConfig
    setting: str = ""


def control_runs(runs: Sequence[Run], dataset: str, method: str, experiment: str = "comparison",
                 seeds: Sequence[int] = CONTROL_SEEDS) -> list[Run]:
    """The A/A control of ``method`` on ``dataset``: its run of ``experiment`` again with
    ``seeds`` (experiment ``"control"``)."""
    template = next((r for r in runs if r.dataset == dataset and r.method == method and r.experiment == experiment),
                    None)
    if template is None:
        raise ValueError(f"control_runs: no {experiment!r} run of {method!r} on {dataset!r} to repeat")
    return [Run(dataset, "control", method, seed, template.config.replace(seed=seed), template.setting)
            for seed in seeds]


def run_results(runs: Sequence[Run], data: Mapping[str, MultiLabelData], workers: int | None = None,
                description: str = "training runs") -> list[RunResult]:
    """The trained (or cached) result of every run, in order, one :func:`train_all` call per
    data set."""
    results: list[RunResult | None] = [None] * len(runs)
    for dataset in dict.fromkeys(r.dataset for r in runs):
        indices = [i for i, r in enumerate(runs) if r.dataset == dataset]
        trained = train_all([runs[i].config.replace(seed=runs[i].seed) for i in indices], data[dataset],
                            workers=workers, description=f"{dataset}: {description}")
        for i, result in zip(indices, trained):
            results[i] = result
    return results


#: Runs scored per worker job (each job gets its data set once, not once per run).
SCORE_CHUNK = 8


def _score_runs(score: Callable, results: Sequence[RunResult], data: MultiLabelData) -> None:
    for result in results:
        stored_score(score, result, data)


def _score_in_processes(runs: Sequence[Run], results: Sequence[RunResult], data: Mapping[str, MultiLabelData],
                        score: Callable, workers: int | None, description: str) -> None:
    """Score, in worker processes, the runs whose scores are not stored yet (scoring is as slow
    as training for the smallest models, and would otherwise run on one core). A function
    defined in a notebook cell is neither stored nor sent to a process: the table scores it."""
    if score_path(score, results[0]) is None:
        return
    jobs = []
    for dataset in dict.fromkeys(r.dataset for r in runs):
        missing = list({result.key: result for run, result in zip(runs, results)
                        if run.dataset == dataset and not score_path(score, result).exists()}.values())
        jobs += [(score, missing[i:i + SCORE_CHUNK], data[dataset]) for i in range(0, len(missing), SCORE_CHUNK)]
    map_in_processes(_score_runs, jobs, workers, f"scoring {description}")


def run_table(runs: Sequence[Run], data: Mapping[str, MultiLabelData],
              score: Callable[[RunResult, MultiLabelData], dict] | None = None, workers: int | None = None,
              description: str = "training runs") -> tuple[pd.DataFrame, list[RunResult]]:
    """Train or load every run and score it: ``(table, results)`` with one row of the table per
    run (columns :data:`RUN_COLUMNS`, then ``score(result, data)``'s keys, read from the run's
    folder when this scoring code has scored the run before) and the results in the same order."""
    runs = list(runs)
    if not runs:
        raise ValueError("run_table: no runs planned")
    results = run_results(runs, data, workers, description)
    if score is not None:
        _score_in_processes(runs, results, data, score, workers, description)
    rows = []
    for run, result in zip(runs, results):
        metrics = result.metrics
        rows.append({"dataset": run.dataset, "experiment": run.experiment, "method": run.method,
                     "setting": run.setting, "seed": run.seed, "run_key": result.key,
                     "val_mAP_class": metrics.get("val_mAP_class", float("nan")),
                     "selected_epoch": metrics.get("selected_epoch"), "train_seconds": metrics.get("train_seconds"),
                     **(stored_score(score, result, data[run.dataset]) if score is not None else {})})
    return pd.DataFrame(rows), results
