"""One trainer for every scheme of the book: :func:`train` ``(config, data) -> RunResult``.

What a run does, epoch by epoch (epochs are 1-based):

1. shuffle (or class-aware resample) the training indices with the run's own generator and cut
   them into batches of index tensors; inputs and the trainer's copy of the targets live on the
   device from the start, so a batch is one gather, with no per-sample Python;
2. per batch: forward, (in a distributed run: gather the logits of the global batch), the
   configured loss, backward, gradient clipping, optimiser step at the scheduled learning rate;
   LL-Cp relabels the entries the Large Loss rule selected;
3. APL (from epoch T_w on): eval-mode probabilities over the training set, new soft negatives;
4. score the ``eval_splits`` (mAP@class, mAP@sample; top-1 accuracy for single-label data),
   keep the best validation epoch's weights, stop early when patience runs out;
5. write a checkpoint atomically.

A killed run resumes from its last checkpoint and ends with the same numbers as an
uninterrupted one. A finished run is cached (:mod:`mlteach.train.cache`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..data.splits import LabelledSplit, MultiLabelData
from ..metrics import average_precision
from ..models import build_model
from ..progress import progress_bar
from .batching import EpochBatches, augmentation
from .cache import (CorruptCacheFile, code_version, data_fingerprint, hash_key, load_state, move_aside,
                    read_json, remove_stale_temporaries, require_writable, runs_folder, save_atomic,
                    write_json_atomic)
from .config import TrainConfig
from .distributed import ProcessGroup, all_gather_with_grad, init_from_environment, shard
from .labels import TrainingLabels
from .objective import Objective
from .optim import build_optimizer, learning_rate_factor, set_learning_rates
from .pretrain import pretrained_backbone

__all__ = ["train", "cached_run", "RunResult", "Runtime", "resolve_runtime", "Trainer", "RECORD_COLUMNS"]

#: Columns of a run's records, one row per (phase, epoch, split).
RECORD_COLUMNS = ("phase", "epoch", "split", "loss", "mAP_class", "mAP_sample", "top1",
                  "labels_modified", "modified_precision", "positive_labels_added",
                  "positive_label_precision", "lr", "seconds")

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
RESULT = "result.json"
#: The selected model's validation and test logits, as scored at the end of training (what
#: the reproduction chapters score again, so they never run the model a second time).
LOGITS = "evaluation_logits.pt"
#: What a finished run's result.json holds (besides the configuration).
RESULT_KEYS = ("records", "metrics", "input_shape", "num_classes")
#: What a checkpoint holds (besides "cuda_rng" on a GPU).
CHECKPOINT_KEYS = ("epoch", "step", "records", "epochs_without_improvement", "stopped_early", "best", "model",
                   "optimizer", "scaler", "labels", "generator", "torch_rng")


@dataclass(frozen=True)
class Runtime:
    """Where and how a run executes: device, mixed-precision dtype (CUDA only), channels-last
    (image inputs; on a CPU too, where it makes the book's small convolutions about 25 % faster)
    and the process group."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    group: ProcessGroup

    def key_settings(self) -> dict:
        """The settings that change a run's numbers (part of its cache key)."""
        return {"device": self.device.type, "amp": str(self.amp_dtype),
                "channels_last": self.channels_last, "world_size": self.group.world_size}


def resolve_runtime(config: TrainConfig) -> Runtime:
    """Resolve ``device="auto"`` (CUDA, then CPU), join a ``torchrun`` process group if the
    environment describes one, and keep ``amp`` only on CUDA."""
    wants_cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    if wants_cuda and not torch.cuda.is_available():
        raise ValueError(f"device={config.device!r} but CUDA is not available")
    group = init_from_environment(use_cuda=wants_cuda)
    if not wants_cuda:
        return Runtime(torch.device("cpu"), None, config.channels_last, group)
    if group.is_distributed or config.device in ("auto", "cuda"):
        device = torch.device("cuda", group.local_rank if group.is_distributed else torch.cuda.current_device())
    else:
        device = torch.device(config.device)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[config.amp]
    return Runtime(device, amp_dtype, config.channels_last, group)


@dataclass
class RunResult:
    """A finished run: its configuration, cache key and directory, per-epoch ``records`` (a tidy
    DataFrame with :data:`RECORD_COLUMNS`), final ``metrics`` of the selected model, and whether
    it came from the cache. A LinearInit run's records hold both phases (``phase`` column)."""

    config: TrainConfig
    key: str
    run_dir: Path
    records: pd.DataFrame
    metrics: dict
    input_shape: tuple[int, ...]
    num_classes: int
    from_cache: bool

    @property
    def model_path(self) -> Path:
        return self.run_dir / MODEL

    @property
    def checkpoint_path(self) -> Path:
        """Last epoch's full state, including the trainer's targets and APL pseudo-targets."""
        return self.run_dir / CHECKPOINT

    def load_model(self, device: torch.device | str = "cpu") -> nn.Module:
        """The selected model, in eval mode."""
        # a label-graph head's graph is part of the stored weights: any valid graph will be replaced
        model = build_model(self.config.model, self.input_shape, self.num_classes,
                            labels=torch.eye(self.num_classes), **self.config.model_kwargs)
        model.load_state_dict(_stored_model(self.model_path))
        return model.to(device).eval()


def _stored_model(path: Path) -> dict:
    """The weights in a run's model file; :class:`CorruptCacheFile` (path and remedy) if it
    cannot be read or holds no weights."""
    state = load_state(path)
    if state is None:
        raise CorruptCacheFile(path, "the file is missing")
    if not isinstance(state.get("model"), dict):
        raise CorruptCacheFile(path, "it holds no 'model' weights")
    return state["model"]


def train(config: TrainConfig, data: MultiLabelData, runs_dir: str | os.PathLike | None = None) -> RunResult:
    """Train ``config`` on ``data`` (or load the finished run from the cache; resume it from
    its checkpoint if it was interrupted). ``runs_dir`` defaults to ``$MLTEACH_RUNS`` or
    ``<repository>/runs``. Under ``torchrun`` every process calls this with the same
    arguments. The caller's ``data`` is never modified; torch's global RNG is seeded with
    ``config.seed`` when a run trains."""
    _check_data(config, data)
    if config.scheme == "linear_init":
        linear = train(_linear_phase(config), data, runs_dir)
        finetune = _train_or_load(config, data, runs_dir, init=linear)
        records = pd.concat([linear.records, finetune.records], ignore_index=True)
        return dataclasses.replace(finetune, records=records)
    return _train_or_load(config, data, runs_dir, init=None)


def _check_data(config: TrainConfig, data: MultiLabelData) -> None:
    if data.train.num_classes != len(data.class_names):
        raise ValueError(f"data has {len(data.class_names)} class names but {data.train.num_classes} target columns")
    if len(data.train) == 0:
        raise ValueError("the training split is empty")
    for name in config.eval_splits:
        if len(getattr(data, name)) == 0:
            raise ValueError(f"eval_splits names {name!r}, which is empty")
    if config.pretrained is not None and data.meta.get("source") == config.pretrained.digits:
        raise ValueError(f"the data are built from {config.pretrained.digits!r} digits; pretraining "
                         "on the same source would show the backbone validation and test digits")


def cached_run(config: TrainConfig, data: MultiLabelData, runs_dir: str | os.PathLike | None = None) -> RunResult | None:
    """The finished run of ``config`` on ``data`` from the run cache, or ``None``; never trains."""
    _check_data(config, data)
    init = None
    if config.scheme == "linear_init":
        init = cached_run(_linear_phase(config), data, runs_dir)
        if init is None:
            return None
    key, run_dir = _run_location(config, data, runs_dir, init)
    stored = _finished_run(run_dir, resolve_runtime(config).group)
    if stored is None:
        return None
    result = _result(config, key, run_dir, stored, from_cache=True)
    if init is not None:
        result = dataclasses.replace(result, records=pd.concat([init.records, result.records], ignore_index=True))
    return result


def _linear_phase(config: TrainConfig) -> TrainConfig:
    return config.replace(scheme="end_to_end", freeze_backbone=True, epochs=config.linear_init_epochs,
                          lr=config.linear_init_lr or config.lr)


def _run_location(config: TrainConfig, data: MultiLabelData, runs_dir, init: RunResult | None) -> tuple[str, Path]:
    runtime = resolve_runtime(config)
    settings = {k: v for k, v in config.to_dict().items() if k != "progress"}
    key = hash_key({"config": settings, "data": data_fingerprint(data), "code": code_version(),
                    "runtime": runtime.key_settings(), "init": init.key if init else None})
    return key, runs_folder(runs_dir) / key


def _finished_run(run_dir: Path, group: ProcessGroup) -> dict | None:
    """The stored result of a finished run, or None. A finished run whose result or model file
    cannot be read is moved aside (by the main process, with a warning naming the file), so it
    trains again."""
    problem = None
    try:
        stored = read_json(run_dir / RESULT)
        if stored is None:
            return None
        missing = [key for key in RESULT_KEYS if key not in stored]
        if missing:
            problem = f"result.json lacks {missing}"
        else:
            _stored_model(run_dir / MODEL)
    except CorruptCacheFile as error:
        problem = f"{error.path.name}: {error.problem}"
    if problem is None:
        return stored
    if group.is_main:
        move_aside([run_dir / name for name in (RESULT, MODEL) if (run_dir / name).exists()],
                   f"unusable finished run ({problem})")
    group.barrier()
    return None


def _restore_checkpoint(trainer: Trainer, path: Path, group: ProcessGroup) -> bool:
    """Load the checkpoint at ``path`` into ``trainer`` if there is a usable one; an unreadable
    or inconsistent checkpoint is moved aside with a warning (False: train from the start with
    a fresh trainer)."""
    try:
        state = load_state(path)
        if state is None:
            return True
        problem = trainer.checkpoint_problem(state)
        if problem is None:
            trainer.load_state_dict(state)
            return True
    except CorruptCacheFile as error:
        problem = error.problem
    except (KeyError, RuntimeError, ValueError, TypeError) as error:  # state of another model
        problem = f"it does not fit this run ({type(error).__name__}: {error})"
    if group.is_main:
        move_aside([path], f"unusable checkpoint: {problem}")
    group.barrier()
    return False


def _train_or_load(config: TrainConfig, data: MultiLabelData, runs_dir, init: RunResult | None) -> RunResult:
    runtime = resolve_runtime(config)
    key, run_dir = _run_location(config, data, runs_dir, init)
    stored = _finished_run(run_dir, runtime.group)
    if stored is not None:
        return _result(config, key, run_dir, stored, from_cache=True)
    if runtime.group.is_main:  # before any training: a read-only cache fails now, not after an epoch
        require_writable(run_dir)
        remove_stale_temporaries(run_dir)
    runtime.group.barrier()

    with _reproducibility(config.deterministic, runtime.device):
        init_state = _stored_model(init.model_path) if init else None
        trainer = Trainer(config, data, runtime, init_state=init_state, runs_dir=runs_dir)
        if not _restore_checkpoint(trainer, run_dir / CHECKPOINT, runtime.group):
            trainer = Trainer(config, data, runtime, init_state=init_state, runs_dir=runs_dir)

        def save_checkpoint(state: dict) -> None:
            if runtime.group.is_main:
                save_atomic(state, run_dir / CHECKPOINT)
            runtime.group.barrier()

        trainer.fit(save_checkpoint)
        metrics = trainer.final_metrics()
    stored = {"config": config.to_dict(), "records": trainer.records, "metrics": metrics,
              "input_shape": list(data.train.inputs.shape[1:]), "num_classes": data.train.num_classes}
    if runtime.group.is_main:
        save_atomic({"model": trainer.selected_state()}, run_dir / MODEL)
        save_atomic(trainer.final_logits, run_dir / LOGITS)
        write_json_atomic(stored, run_dir / RESULT)  # last: a run is finished once this file exists
    runtime.group.barrier()
    return _result(config, key, run_dir, stored, from_cache=False)


def _result(config: TrainConfig, key: str, run_dir: Path, stored: dict, from_cache: bool) -> RunResult:
    records = pd.DataFrame(stored["records"], columns=list(RECORD_COLUMNS))
    return RunResult(config, key, run_dir, records, stored["metrics"], tuple(stored["input_shape"]),
                     stored["num_classes"], from_cache)


@contextlib.contextmanager
def _reproducibility(deterministic: bool, device: torch.device):
    """Deterministic kernels if asked (restored afterwards); cuDNN autotuning otherwise.
    (``use_deterministic_algorithms`` is only called to change the setting: its first call
    imports the compiler stack, over a second.)"""
    was_deterministic, was_benchmark = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if deterministic and device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if deterministic != was_deterministic:
        torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic and device.type == "cuda"
    try:
        yield
    finally:
        if deterministic != was_deterministic:
            torch.use_deterministic_algorithms(was_deterministic)
        torch.backends.cudnn.benchmark = was_benchmark


class Trainer:
    """The state of one run and the loop that advances it; :func:`train` drives it."""

    def __init__(self, config: TrainConfig, data: MultiLabelData, runtime: Runtime,
                 init_state: dict | None = None, runs_dir=None):
        self.config, self.data, self.runtime = config, data, runtime
        device = runtime.device
        torch.manual_seed(config.seed)
        input_shape = tuple(data.train.inputs.shape[1:])
        self.model = build_model(config.model, input_shape, data.train.num_classes, labels=data.train.targets,
                                 **config.model_kwargs)
        if init_state is not None:
            self.model.load_state_dict(init_state)
        elif config.pretrained is not None:
            backbone = pretrained_backbone(config.pretrained, config.model, config.model_kwargs, runs_dir, device)
            self.model.backbone.load_state_dict(backbone["backbone"])
        if config.freeze_backbone:
            self.model.backbone.requires_grad_(False)
        self.channels_last = runtime.channels_last and len(input_shape) == 3
        self.model.to(device, memory_format=torch.channels_last if self.channels_last else torch.preserve_format)
        self.network: nn.Module = self.model
        if runtime.group.is_distributed:
            if device.type == "cuda":
                self.model = nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            self.network = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        if config.compile:
            self.network = torch.compile(self.network)

        self.optimizer = build_optimizer(self.model, config)
        self.scaler = torch.amp.GradScaler(device.type, enabled=runtime.amp_dtype == torch.float16)
        self.inputs = {name: getattr(data, name).inputs.to(device) for name in ("train", "val", "test")}
        self.labels = TrainingLabels(data.train.targets.to(device), data.train.true_targets.to(device),
                                     with_pseudo_labels=config.apl_warmup_epochs is not None)
        self.objective = Objective(config, self.labels.targets)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.batches = EpochBatches(config, data.train.targets)
        self.augment = augmentation(config)
        self.steps_per_epoch = len(self.batches)

        self.epoch = 0
        self.final_logits: dict[str, torch.Tensor] = {}
        self.step = 0
        self.records: list[dict] = []
        self.best: dict | None = None  # {"epoch", "score", "model"}
        self.epochs_without_improvement = 0
        self.stopped_early = False

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        state = {
            "epoch": self.epoch, "step": self.step, "records": self.records,
            "epochs_without_improvement": self.epochs_without_improvement,
            "stopped_early": self.stopped_early, "best": self.best,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "labels": self.labels.state_dict(),
            "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
        }
        if self.runtime.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.runtime.device)
        return state

    def checkpoint_problem(self, state: dict) -> str | None:
        """Why ``state`` cannot be a checkpoint of this run (None if it can): missing entries,
        an epoch outside [0, epochs], a step count or records that disagree with the epoch."""
        missing = [key for key in CHECKPOINT_KEYS if key not in state]
        if missing:
            return f"it lacks {missing}"
        epoch, step, records = state["epoch"], state["step"], state["records"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= self.config.epochs:
            return f"its epoch {epoch!r} is not a whole number in [0, {self.config.epochs}]"
        if step != epoch * self.steps_per_epoch:
            return (f"its step {step!r} does not match epoch {epoch} ({self.steps_per_epoch} steps "
                    "per epoch)")
        if not isinstance(records, list) or not all(isinstance(row, dict) for row in records):
            return "its records are not a list of rows"
        recorded = {row.get("epoch") for row in records}
        if recorded != set(range(1, epoch + 1)):
            return f"its records cover the epochs {sorted(recorded, key=repr)}, not 1 to {epoch}"
        return None

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.step, self.records = state["epoch"], state["step"], state["records"]
        self.epochs_without_improvement = state["epochs_without_improvement"]
        self.stopped_early, self.best = state["stopped_early"], state["best"]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.labels.load_state_dict(state["labels"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.runtime.device)

    def selected_state(self) -> dict:
        """Weights of the returned model: the best validation epoch's with ``select_best``."""
        if self.config.select_best and self.best is not None:
            return self.best["model"]
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    # ------------------------------------------------------------------ loop
    def fit(self, save_checkpoint) -> None:
        """Train until ``epochs`` or early stopping, calling ``save_checkpoint(state_dict())``
        after every epoch."""
        config = self.config
        show = config.progress and self.runtime.group.is_main
        with progress_bar(total=config.epochs * self.steps_per_epoch, initial=self.step, disable=not show,
                  desc=self.phase, unit="step",
                  leave=False) as bar:
            while self.epoch < config.epochs and not self.stopped_early:
                epoch = self.epoch + 1
                rows = [self.train_epoch(epoch, bar)]
                if "train" in config.eval_splits:  # scores of the training split join its row
                    rows[0].update(score(self.predict("train"), self.data.train))
                rows += [self.evaluate(name, epoch) for name in config.eval_splits if name != "train"]
                self._select(rows)
                self.records.extend(rows)
                self.epoch = epoch
                bar.set_postfix(epoch=epoch, loss=f"{rows[0]['loss']:.4f}",
                                **{f"{r['split']}_mAP": f"{r['mAP_class']:.4f}" for r in rows[1:]})
                save_checkpoint(self.state_dict())

    def train_epoch(self, epoch: int, bar) -> dict:
        """One pass over the epoch's batches, then APL; returns the epoch's ``train`` row."""
        config, labels = self.config, self.labels
        start = time.perf_counter()
        self.model.train()
        if config.freeze_backbone:
            self.model.backbone.eval()
        device = self.runtime.device
        total_loss = torch.zeros((), device=device)
        modified = torch.zeros(2, dtype=torch.long, device=device)  # (selected, truly positive)
        batches = self.batches.draw(self.generator, device)
        for batch in batches:
            set_learning_rates(self.optimizer, learning_rate_factor(self.step, self.steps_per_epoch, config))
            loss, selected = self.train_step(batch, epoch)
            total_loss += loss.detach()
            if selected is not None:
                modified += torch.stack([selected.sum(), (selected & (labels.true_targets[batch] == 1)).sum()])
                if self.objective.relabels_permanently:
                    labels.relabel_as_positive(batch, selected)
            self.step += 1
            bar.update(1)
        row = {"phase": self.phase, "epoch": epoch, "split": "train",
               "loss": total_loss.item() / len(batches), "lr": config.lr * learning_rate_factor(
                   self.step - 1, self.steps_per_epoch, config)}
        if self.objective.large_loss_scheme is not None:
            row.update(_modification_counts(*modified.tolist()))
        if config.apl_warmup_epochs is not None and epoch >= config.apl_warmup_epochs:
            probabilities = torch.sigmoid(self.predict("train"))
            added = labels.add_pseudo_labels(probabilities, epoch, config.apl_warmup_epochs, config.epochs,
                                             config.apl_theta, config.apl_positive_theta, config.apl_hard_labels)
            row.update(_modification_counts(added["added"], added["added_right"]))
            row["positive_labels_added"] = added["positive"]
            row["positive_label_precision"] = (added["positive_right"] / added["positive"]
                                               if added["positive"] else math.nan)
        row["seconds"] = time.perf_counter() - start
        return row

    def train_step(self, batch: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Forward, loss on the global batch, backward and optimiser step for the global
        ``batch`` of training indices (this process computes its shard). Returns the loss and
        the Large Loss selection mask (or None)."""
        group = self.runtime.group
        if self.augment is None:
            inputs = self.inputs["train"][shard(batch, group)]
        else:  # augment the global batch, so the random draws do not depend on the process
            inputs = shard(self.augment(self.inputs["train"][batch], self.generator), group)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            logits, features = self.network(inputs, with_features=True)
        logits = all_gather_with_grad(logits.float())
        if self.objective.needs_features:
            features = all_gather_with_grad(features.float())
        pseudo = self.labels.pseudo_targets[batch] if self.labels.pseudo_targets is not None else None
        loss, selected = self.objective(logits, features, self.model.classifier,
                                        self.labels.targets[batch], pseudo, epoch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss, selected

    @torch.no_grad()
    def predict(self, split: str) -> torch.Tensor:
        """Eval-mode logits ``[N, C]`` (float32, on the device) for a whole split; in a
        distributed run each process predicts a contiguous chunk and the chunks are gathered."""
        self.model.eval()
        inputs = self.inputs[split]
        rows = shard(torch.arange(len(inputs)), self.runtime.group)
        chunks = []
        for part in rows.split(self.config.eval_batch_size):
            batch = inputs[int(part[0]): int(part[-1]) + 1]
            if self.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                chunks.append(self.model(batch).float())
        local = torch.cat(chunks) if chunks else inputs.new_zeros((0, self.data.train.num_classes))
        return all_gather_with_grad(local)

    def evaluate(self, split: str, epoch: int) -> dict:
        start = time.perf_counter()
        scores = score(self.predict(split), getattr(self.data, split))
        return {"phase": self.phase, "epoch": epoch, "split": split, **scores,
                "seconds": time.perf_counter() - start}

    def final_metrics(self) -> dict:
        """Load the selected model and score it on the validation and test splits (their logits
        kept in ``final_logits``); with ``selected_epoch``, ``epochs_trained`` and total
        ``train_seconds``."""
        self.model.load_state_dict(self.selected_state())
        metrics = {"selected_epoch": self.best["epoch"] if self.config.select_best and self.best else self.epoch,
                   "epochs_trained": self.epoch,
                   "train_seconds": sum(r["seconds"] for r in self.records if r["split"] == "train")}
        self.final_logits = {}
        for split in ("val", "test"):
            if len(getattr(self.data, split)):
                self.final_logits[split] = self.predict(split).cpu()
                scores = score(self.final_logits[split], getattr(self.data, split))
                metrics.update({f"{split}_{name}": value for name, value in scores.items()})
        return metrics

    # ------------------------------------------------------------------ helpers
    @property
    def phase(self) -> str:
        """``"linear"`` (classifier on a frozen backbone) or ``"full"`` (everything trains)."""
        return "linear" if self.config.freeze_backbone else "full"

    def _autocast(self):
        if self.runtime.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.runtime.device.type, dtype=self.runtime.amp_dtype)

    def _select(self, rows: list[dict]) -> None:
        """Keep the best validation epoch; count epochs without improvement."""
        validation = [r for r in rows if r["split"] == "val"]
        if not validation:
            return
        score_now = validation[0]["mAP_class"]
        if self.best is None or _improves(score_now, self.best["score"]):
            self.best = {"epoch": validation[0]["epoch"], "score": score_now,
                         "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}}
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        patience = self.config.early_stopping_patience
        self.stopped_early = patience is not None and self.epochs_without_improvement >= patience


def score(logits: torch.Tensor, split: LabelledSplit) -> dict:
    """mAP@class and mAP@sample of ``logits`` against the split's observed targets (unknown
    entries excluded); top-1 accuracy too when every sample has exactly one known positive and
    no unknown entry (single-label data)."""
    logits, targets = logits.cpu(), split.targets
    scores = {"mAP_class": float(average_precision(logits, targets, average="class")),
              "mAP_sample": float(average_precision(logits, targets, average="sample"))}
    if bool(((targets == 1).sum(dim=1) == 1).all()) and not bool((targets == -1).any()):
        scores["top1"] = (logits.argmax(dim=1) == targets.argmax(dim=1)).float().mean().item()
    return scores


def _improves(score_now: float, best: float) -> bool:
    """Higher is better; NaN (nothing to score) never improves, and anything beats NaN."""
    return not math.isnan(score_now) and (math.isnan(best) or score_now > best)


def _modification_counts(modified: int, correct: int) -> dict:
    """Record fields of a label scheme's epoch: entries it modified, and the fraction of them
    whose ground truth agrees with the modification (NaN if none)."""
    return {"labels_modified": modified, "modified_precision": correct / modified if modified else math.nan}
