"""Run many independent jobs at once, one process per core.

The book's chapters train dozens of small models; one process per CPU core (each with one
torch thread) uses a 2-core machine about twice as well as one process. The worker processes
are spawned once (safe inside a Jupyter kernel) and kept for the life of the calling process,
so later calls do not pay the start-up again.

:func:`train_all` loads the runs already in the cache and trains the others through
:func:`~mlteach.train.train` in the workers, then reads them back from the cache, so the
results are exactly those of training one by one. :func:`map_in_processes` is the general
form, for any picklable function (e.g. evaluations of trained runs).
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Sequence

import torch

from ..data.splits import MultiLabelData
from ..progress import progress_bar
from .config import TrainConfig
from .trainer import RunResult, cached_run, train

__all__ = ["train_all", "map_in_processes", "default_workers"]

_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0


def default_workers() -> int:
    """``$MLTEACH_WORKERS``, else the number of CPU cores."""
    return int(os.environ.get("MLTEACH_WORKERS", os.cpu_count() or 1))


def _start_worker() -> None:
    torch.set_num_threads(1)
    # Ctrl-C (or a Jupyter kernel's interrupt) is the calling process's to handle: a worker
    # finishes its job rather than dying mid-run with a traceback in the log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _shared_pool(workers: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_WORKERS
    if _POOL is None or _POOL_WORKERS != workers:
        if _POOL is not None:
            _POOL.shutdown()
        _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_start_worker)
        _POOL_WORKERS = workers
    return _POOL


@atexit.register
def _close_shared_pool() -> None:
    if _POOL is not None:
        _POOL.shutdown(cancel_futures=True)


def map_in_processes(function: Callable, arguments: Sequence[tuple], workers: int | None = None,
                     description: str = "jobs", progress: bool = True) -> list[Any]:
    """``[function(*args) for args in arguments]``, computed in worker processes.

    ``workers`` defaults to :func:`default_workers` (at most one per job); with 1 the jobs run
    here. ``function`` and the arguments must be picklable (a module-level function). The
    first failing job's error is raised here.
    """
    arguments = list(arguments)
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, len(arguments))
    results: list[Any] = [None] * len(arguments)
    with progress_bar(total=len(arguments), desc=description, disable=not progress or not arguments) as bar:
        if workers <= 1:
            for index, args in enumerate(arguments):
                results[index] = function(*args)
                bar.update()
        else:
            pool = _shared_pool(workers)
            futures = {pool.submit(function, *args): index for index, args in enumerate(arguments)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    return results


def _train_quietly(config: TrainConfig, data: MultiLabelData, runs_dir: str | None) -> str:
    return train(config.replace(progress=False), data, runs_dir).key


def train_all(configs: Sequence[TrainConfig], data: MultiLabelData, workers: int | None = None,
              runs_dir: str | os.PathLike | None = None, progress: bool = True,
              description: str = "training runs") -> list[RunResult]:
    """Results of ``train(config, data)`` for every configuration, in order (``from_cache`` is
    False for the runs trained by this call).

    ``workers``: processes to train in (see :func:`map_in_processes`); 1 trains in this
    process. A failing run raises its error here.
    """
    configs = list(configs)
    if not all(isinstance(c, TrainConfig) for c in configs):
        raise ValueError("train_all: every configuration must be a TrainConfig")
    if workers is not None and workers < 1:
        raise ValueError(f"train_all: workers must be >= 1, got {workers}")
    runs_dir = None if runs_dir is None else str(runs_dir)
    distinct = {json.dumps(c.to_dict(), sort_keys=True, default=str): c for c in configs}
    missing = [c for c in distinct.values() if cached_run(c, data, runs_dir) is None]
    trained = set(map_in_processes(_train_quietly, [(c, data, runs_dir) for c in missing], workers,
                                   description, progress))
    results = [cached_run(c, data, runs_dir) for c in configs]
    lost = [c for c, r in zip(configs, results) if r is None]
    if lost:
        raise RuntimeError(f"train_all: {len(lost)} run(s) finished but are not in the cache: {lost[:2]}")
    return [dataclasses.replace(r, from_cache=r.key not in trained) for r in results]
