"""Chapter 5 reproduction: single positive labels, the EM loss and APL (Zhou et al., ECCV 2022).

:func:`plan` lists the runs on single-positive digit mosaics and yeast, :func:`run_chapter`
trains and scores them into one tidy table: the ``comparison`` of the main paper's Table 1
(AN, EM, EM + APL on ``HEADLINE_SEEDS``; the weak baselines on ``SWEEP_SEEDS``, the one chosen
on validation also on the other headline seeds), the ``full labels`` BCE upper bound, the
``APL questions`` of supplement Sec. D (variants of EM + APL) and the A/A ``control`` (AN on
``CONTROL_SEEDS``). The supplement's Figs. 7-11 come from replayed training trajectories
(:func:`training_logits_per_epoch`), the selected models (:func:`training_statistics`) and
the data (:func:`negative_shares`); Table 6 from the pseudo-labels of the Q4 variant, Table 7
from test F1 with its test resamples (:func:`f1_replicates`). :func:`claims` decides each claim
from a 95 % interval over seeds (and test images where the statistic depends on them).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data.builders import build_dataset
from ..data.regimes import apply_single_positive
from ..data.splits import LabelledSplit, MultiLabelData
from ..losses import apl_pseudo_labels
from ..metrics import class_average_precisions
from ..train import PretrainConfig, RunResult, TrainConfig, pretrained_backbone
from ..train.cache import code_version, data_fingerprint, hash_key, load_state, runs_folder, save_atomic
from ..train.trainer import Trainer, resolve_runtime
from .claims import Claim, compare, paper_number
from .evaluation import BOOT, evaluation_logits, measurements, predict, test_scores
from .evidence import Measurements, image_resamples
from .experiment import CONTROL_SEEDS, HEADLINE_SEEDS, SWEEP_SEEDS, Run, control_runs, run_table
from .large_loss import DISJOINT_PRETRAINING, pretraining_text
from .linear_protocol import SCENES_NAME, linear_probe, scene_options
from .scale import current_scale

__all__ = [
    "CHAPTER", "PAGE", "LINKS", "PAPER_TABLE4", "PAPER_TABLE5", "PAPER_BASELINE_SETTINGS", "PAPER_TABLE6",
    "PAPER_TABLE7_FACTS", "PAPER_APL_ANSWERS", "METHODS", "FULL_LABEL_METHOD", "CORE_METHODS", "BASELINES",
    "APLVariant", "APL_VARIANTS", "F1_THRESHOLDS", "DataSetting", "data_settings", "settings_table", "chapter_data",
    "full_label_data", "method_config", "plan", "score", "f1_replicates", "run_chapter", "best_baseline",
    "comparison_table", "training_logits", "probabilities", "training_statistics", "training_logits_per_epoch",
    "trajectories", "positive_loss_curves", "logit_magnitudes", "positive_probabilities", "unannotated_proportions",
    "negative_shares", "probability_densities", "hidden_positive_share", "paper_hidden_positive_shares",
    "hidden_positive_table", "simulated_pseudo_labels", "apl_precision", "pseudo_label_precision", "table6", "f1_table",
    "apl_table", "soft_label_noise", "plot_positive_loss", "plot_logit_magnitudes", "plot_positive_probabilities",
    "plot_unannotated_proportions", "plot_probability_densities", "plot_apl_precision", "claims",
]

CHAPTER = "5. Single positive labels (EM + APL)"
#: The notebook page whose sections measure the claims.
PAGE = "ch5_single_positive_experiments.html"

#: EM supplement, Table 4: the four benchmarks (training / validation / test images, classes,
#: ground-truth positive and negative labels per training image).
PAPER_TABLE4 = pd.DataFrame(
    {"VOC": [20, 4574, 1143, 5823, 1.46, 18.54], "COCO": [80, 65665, 16416, 40137, 2.94, 77.06],
     "NUS": [81, 120000, 30000, 60260, 1.89, 79.11], "CUB": [312, 4795, 1199, 5794, 31.4, 280.6]},
    index=["classes", "training images", "validation images", "test images",
           "positives per training image", "negatives per training image"])

#: EM supplement, Table 5: the selected hyper-parameters of EM + APL.
PAPER_TABLE5 = pd.DataFrame(
    {"VOC": [8, 1e-5, 0.2, 0.02, 0.9, 5], "COCO": [16, 1e-5, 0.1, 0.9, 0.9, 5],
     "NUS": [16, 1e-5, 0.1, 0.2, 0.9, 4], "CUB": [8, 1e-4, 0.01, 0.4, 0.9, 3]},
    index=["batch size", "learning rate", "alpha", "beta", "theta", "T_w"])

#: EM supplement, Sec. C.3: the baselines' selected hyper-parameters (COCO where they differ).
PAPER_BASELINE_SETTINGS = {
    "DW": "weight 0.1 on assumed negatives (VOC, COCO, NUS; 0.02 on CUB)",
    "LS": "smoothing 0.1 (all four)", "N-LS": "smoothing 0.1 (0.3 on VOC)",
    "EntMin": "weight 0.9 on COCO (0.01 VOC, 0.4 NUS and CUB)",
    "focal": "gamma 2, alpha 0.75", "ASL": "gamma- 2, gamma+ 0, margin 0.2 (CUB: gamma- 1, margin 0)",
}

#: EM supplement, Table 6: precision of positive pseudo-labels at a 10 % sample proportion (%,
#: mean of 3 runs).
PAPER_TABLE6 = pd.Series({"VOC": 15.66, "COCO": 15.29, "NUS": 9.18, "CUB": 19.34}, name="precision (%)")

#: EM supplement, Sec. E (Table 7's body is not in the text we hold; these are the facts the
#: text states). Thresholds: 0.5 for BCE and AN, 0.75 for EM.
PAPER_TABLE7_FACTS = {
    "EM micro-F1 on VOC (threshold 0.75)": "85.36 %, above BCE trained with full labels",
    "AN micro- and macro-F1 on CUB (threshold 0.5)": "0 and 0",
    "AN on all four data sets": "poor micro- and macro-F1",
}
#: EM's micro-F1 on VOC at threshold 0.75 (supplement, Sec. E), in %.
PAPER_EM_MICRO_F1_VOC = 85.36

#: EM supplement, Sec. D: the four APL questions and the paper's answers, in our words.
PAPER_APL_ANSWERS = {
    "Q1 sample proportion": "a low proportion of negative pseudo-labels adds almost nothing; a high one helps",
    "Q2 hard vs soft": "hard negative pseudo-labels do not clearly help; soft ones (s = p) do",
    "Q3 down-weighting": "beta = 1 still trains stably, a tuned beta < 1 is better",
    "Q4 positive pseudo-labels": "they lower mAP: their precision is low (Table 6)",
}
#: The compared losses: display name -> (loss of mlteach.losses, keyword arguments). The
#: hyper-parameters are the supplement's COCO selections (Sec. C.3 and Table 5).
METHODS: dict[str, tuple[str, dict]] = {
    "AN": ("assume_negative_loss", {}),
    "DW": ("down_weight_loss", {"assumed_negative_weight": 0.1}),
    "LS": ("label_smoothing_loss", {"smoothing": 0.1}),
    "N-LS": ("negative_label_smoothing_loss", {"smoothing": 0.1}),
    "EntMin": ("entropy_minimization_loss", {"alpha": 0.9}),
    "focal": ("focal_loss", {"gamma": 2.0, "alpha": 0.75}),
    "ASL": ("asymmetric_loss", {"gamma_neg": 2.0, "gamma_pos": 0.0, "clip": 0.2}),
    "EM": ("entropy_maximization_loss", {"alpha": 0.1}),
    "EM + APL": ("entropy_maximization_loss", {"alpha": 0.1, "beta": 0.9}),
}
FULL_LABEL_METHOD = "BCE (full labels)"
#: The methods of the headline claims (trained on ``HEADLINE_SEEDS``).
CORE_METHODS = ("AN", "EM", "EM + APL")
BASELINES = ("DW", "LS", "N-LS", "EntMin", "focal", "ASL")
#: F1 thresholds of Table 7 (0.5 for BCE and AN, 0.75 for EM).
F1_THRESHOLDS = (0.5, 0.75)


@dataclass(frozen=True)
class APLVariant:
    """EM + APL with one setting changed: ``beta`` (weight of the pseudo-label terms), ``theta``
    (negative sample proportion), ``hard`` (targets 0 / 1 instead of p) and ``positive_theta``
    (sample proportion of positive pseudo-labels). The defaults are "EM + APL" itself."""

    beta: float = 0.9
    theta: float = 0.9
    hard: bool = False
    positive_theta: float = 0.0


#: Sample proportion of positive pseudo-labelling in the supplement's Q4 and Table 6.
POSITIVE_PROPORTION = 0.1
#: The variants of EM + APL that answer the questions of Sec. D (Q3 has two).
APL_VARIANTS: dict[str, APLVariant] = {
    "EM + APL, theta 0.1 (low proportion)": APLVariant(theta=0.1),
    "EM + APL, hard pseudo-labels": APLVariant(hard=True),
    "EM + APL, beta 0.2": APLVariant(beta=0.2),
    "EM + APL, beta 1 (no down-weighting)": APLVariant(beta=1.0),
    "EM + APL, + positive pseudo-labels (10 %)": APLVariant(positive_theta=POSITIVE_PROPORTION),
}
LOW_PROPORTION, HARD, LOW_BETA, NO_DOWN_WEIGHTING, POSITIVE = APL_VARIANTS


# --------------------------------------------------------------------------- data and runs
@dataclass(frozen=True)
class DataSetting:
    """One data set of the chapter: ``builder`` (a name of :data:`mlteach.data.builders.BUILDERS`) with ``builder_kwargs``
    (single positive training labels are drawn from it; validation and test labels stay
    complete), the ``base`` training configuration, APL's warm-up ``warmup_epochs`` (T_w) and
    the classes of the density figure."""

    builder: str
    builder_kwargs: dict
    base: TrainConfig
    warmup_epochs: int
    density_classes: tuple[int, ...] = (0, 4, 8)


def data_settings(scale: str | None = None) -> dict[str, DataSetting]:
    """The chapter's data sets at ``scale``: "book" (2 CPU cores) or "full" (a GPU: MNIST mosaics,
    a pretrained ResNet, more epochs). The base configurations are chapter 4's single-positive
    ones (a narrow CNN at book scale), so the AN runs of the two chapters are the same runs."""
    scale = scale or current_scale()
    quiet = dict(progress=False, eval_splits=("val",))
    if scale == "book":
        return {
            "digits": DataSetting(
                "mosaics", dict(source="sklearn", n_train=1500, n_val=500, n_test=1000, seed=0),
                TrainConfig(model="small_cnn", model_kwargs={"widths": (16, 32)}, pretrained=DISJOINT_PRETRAINING,
                            epochs=7, lr=6e-3, batch_size=64, **quiet), warmup_epochs=3),
            "yeast": DataSetting(
                "yeast", {"seed": 0},
                TrainConfig(model="mlp", model_kwargs={"hidden": (256,)}, epochs=25, lr=1e-3, batch_size=64, **quiet),
                warmup_epochs=5),
            SCENES_NAME: DataSetting("scene features", scene_options(scale=scale), linear_probe(scale), warmup_epochs=3)}
    if scale == "full":
        return {
            "digits": DataSetting(
                "mosaics", dict(source="mnist5k", n_train=10000, n_val=2000, n_test=4000, seed=0),
                TrainConfig(model="resnet", model_kwargs={"widths": (32, 64, 128), "blocks": (1, 1, 1)},
                            pretrained=PretrainConfig(digits="sklearn", image_size=28, epochs=20, task="rotation"),
                            epochs=10, lr=1e-3, batch_size=64, **quiet), warmup_epochs=4),
            "yeast": DataSetting(
                "yeast", {"seed": 0},
                TrainConfig(model="mlp", model_kwargs={"hidden": (256,)}, epochs=40, lr=1e-3, batch_size=64, **quiet),
                warmup_epochs=8),
            SCENES_NAME: DataSetting("scene features", scene_options(scale=scale), linear_probe(scale), warmup_epochs=8)}
    raise ValueError(f"scale must be 'book' or 'full', got {scale!r}")


def settings_table(scale: str | None = None) -> pd.DataFrame:
    """The settings of each data set and the seeds of each experiment, one row per data set."""
    rows = []
    for name, setting in data_settings(scale).items():
        base, data = setting.base, chapter_data(name, scale)
        rows.append({"data": name, "classes": len(data.class_names),
                     "train / val / test": f"{len(data.train)} / {len(data.val)} / {len(data.test)}",
                     "model": f"{base.model} {base.model_kwargs}" + pretraining_text(base),
                     "epochs": base.epochs, "optimiser": f"{base.optimizer} lr={base.lr:g}, {base.lr_schedule}",
                     "batch": base.batch_size, "APL T_w": setting.warmup_epochs,
                     "seeds": f"{len(HEADLINE_SEEDS)} for {', '.join(CORE_METHODS)}; {len(SWEEP_SEEDS)} for the "
                              f"rest; AN again on {len(CONTROL_SEEDS)} control seeds"})
    return pd.DataFrame(rows).set_index("data").rename_axis(None)


@functools.lru_cache(maxsize=8)
def _build(builder: str, kwargs: tuple) -> MultiLabelData:
    options = dict(kwargs)
    return build_dataset(builder, **options)


def full_label_data(name: str, scale: str | None = None) -> MultiLabelData:
    """The data set ``name`` with every label known (for the full-label BCE upper bound)."""
    setting = data_settings(scale)[name]
    return _build(setting.builder, tuple(sorted(setting.builder_kwargs.items())))


@functools.lru_cache(maxsize=16)
def _single_positive(builder: str, kwargs: tuple, seed: int) -> MultiLabelData:
    return apply_single_positive(_build(builder, kwargs), seed=seed)


def chapter_data(name: str, scale: str | None = None, label_seed: int = 0) -> MultiLabelData:
    """The data set ``name`` with single positive training labels (the chapter's draw is
    ``label_seed = 0``; built once per process)."""
    setting = data_settings(scale)[name]
    return _single_positive(setting.builder, tuple(sorted(setting.builder_kwargs.items())), label_seed)


def method_config(setting: DataSetting, method: str) -> TrainConfig:
    """The configuration of ``method`` (a key of :data:`METHODS`, of :data:`APL_VARIANTS` or
    the full-label BCE) on a data set."""
    if method == FULL_LABEL_METHOD:
        return setting.base.replace(loss="bce_loss", loss_kwargs={})
    if method == "EM + APL" or method in APL_VARIANTS:
        variant = APL_VARIANTS.get(method, APLVariant())
        return setting.base.replace(
            loss="entropy_maximization_loss", loss_kwargs={"alpha": 0.1, "beta": variant.beta},
            apl_warmup_epochs=setting.warmup_epochs, apl_theta=variant.theta, apl_hard_labels=variant.hard,
            apl_positive_theta=variant.positive_theta)
    loss, kwargs = METHODS[method]
    return setting.base.replace(loss=loss, loss_kwargs=dict(kwargs))


def _runs(name: str, setting: DataSetting, experiment: str, methods, seeds) -> list[Run]:
    return [Run(name, experiment, method, seed, method_config(setting, method).replace(seed=seed))
            for method in methods for seed in seeds]


def plan(scale: str | None = None) -> list[Run]:
    """Every planned run of the chapter but the best baseline's extra headline seeds (which
    :func:`run_chapter` adds once validation has chosen it): per data set the comparison, the
    full-label upper bound, the APL variants and the AN control."""
    runs: list[Run] = []
    for name, setting in data_settings(scale).items():
        comparison = (_runs(name, setting, "comparison", CORE_METHODS, HEADLINE_SEEDS)
                      + _runs(name, setting, "comparison", BASELINES, SWEEP_SEEDS))
        runs += (comparison + _runs(name, setting, "full labels", [FULL_LABEL_METHOD], SWEEP_SEEDS)
                 + _runs(name, setting, "APL questions", APL_VARIANTS, SWEEP_SEEDS)
                 + control_runs(comparison, name, "AN", seeds=CONTROL_SEEDS))
    return runs


def _multiplicity(resamples: torch.Tensor) -> torch.Tensor:
    """``[R, N]``: how often each image occurs in each resample, so that ``multiplicity @ x``
    sums a per-image statistic ``x`` over every resample."""
    return torch.zeros(resamples.shape, dtype=torch.float64).scatter_add_(
        1, resamples, torch.ones(resamples.shape, dtype=torch.float64))


def f1_replicates(probabilities: torch.Tensor, targets: torch.Tensor, threshold: float,
                  resamples: torch.Tensor) -> dict[str, tuple[float, np.ndarray]]:
    """Micro- and macro-F1 in % of the predictions ``probabilities >= threshold`` (as
    :func:`mlteach.metrics.f1_scores`), each as (value on the test split, values ``[R]`` on the
    image ``resamples`` ``[R, N]``): the true-positive, false-positive and false-negative counts
    of every image and class, summed with the multiplicity of each image in a resample."""
    known, actual, predicted = targets != -1, targets == 1, probabilities >= threshold
    counts = torch.stack([predicted & actual, predicted & known & ~actual, ~predicted & actual]).double()  # [3, N, C]

    def f1(tp, fp, fn):
        per_class = torch.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn).clamp(min=1), 0.0)
        micro = 2 * tp.sum(-1) / (2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1))
        return 100 * micro, 100 * per_class.mean(-1)

    point = f1(*counts.sum(dim=1))
    boot = f1(*(_multiplicity(resamples) @ counts))  # [3, R, C]
    return {"micro-F1": (float(point[0]), boot[0].numpy()), "macro-F1": (float(point[1]), boot[1].numpy())}


def score(result: RunResult, data: MultiLabelData) -> dict:
    """A run's test statistics: mAP@class and mAP@sample (:func:`test_scores`) and micro- and
    macro-F1 at each of :data:`F1_THRESHOLDS` (columns ``micro-F1@0.5`` ...), all in % with
    their test resamples."""
    scores = test_scores(result, data)
    targets = data.test.targets
    p = torch.sigmoid(evaluation_logits(result, data)["test"])
    for threshold in F1_THRESHOLDS:
        for name, (value, boot) in f1_replicates(p, targets, threshold, image_resamples(len(targets))).items():
            scores[f"{name}@{threshold}"], scores[f"{name}@{threshold}{BOOT}"] = value, boot
    return scores


def _mean_validation(table: pd.DataFrame, method: str) -> float:
    chosen = table[(table["method"] == method) & table["seed"].isin(SWEEP_SEEDS)]
    return float(chosen["val_mAP_class"].mean())


def best_baseline(table: pd.DataFrame, name: str) -> str:
    """The weak baseline with the best mean validation mAP on ``SWEEP_SEEDS`` on data set ``name``."""
    part = table[(table["dataset"] == name) & (table["experiment"] == "comparison")]
    return max(BASELINES, key=lambda method: _mean_validation(part, method))


@functools.lru_cache(maxsize=4)
def _chapter(scale: str) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    settings, planned, tables, results = data_settings(scale), plan(scale), [], {}
    for setting in settings.values():  # pretrain here, once, rather than in every worker process
        if setting.base.pretrained is not None:
            pretrained_backbone(setting.base.pretrained, setting.base.model, setting.base.model_kwargs)

    def train(runs: list[Run], data_of, description: str) -> pd.DataFrame:
        table, trained = run_table(runs, {name: data_of(name, scale) for name in settings}, score,
                                   description=description)
        results.update({r.key: r for r in trained})
        return table

    tables = [train([r for r in planned if r.experiment != "full labels"], chapter_data, "single positive"),
              train([r for r in planned if r.experiment == "full labels"], full_label_data, "full labels")]
    other_seeds = [s for s in HEADLINE_SEEDS if s not in SWEEP_SEEDS]
    extra = [run for name, setting in settings.items()
             for run in _runs(name, setting, "comparison", [best_baseline(tables[0], name)], other_seeds)]
    if extra:
        tables.append(train(extra, chapter_data, "best baseline, headline seeds"))
    return pd.concat(tables, ignore_index=True), results


def run_chapter(scale: str | None = None) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    """Train (or load from the run cache) every run of the chapter and score it: the tidy run
    table (:func:`~mlteach.reproduce.experiment.run_table`'s columns, then :func:`score`'s) and
    the results by ``run_key``. Computed once per process."""
    return _chapter(scale or current_scale())


def _rows(table: pd.DataFrame, name: str, method: str, experiment: str | None = None, seeds=None) -> pd.DataFrame:
    mask = (table["dataset"] == name) & (table["method"] == method)
    if experiment is not None:
        mask &= table["experiment"] == experiment
    if seeds is not None:
        mask &= table["seed"].isin(seeds)
    return table[mask].sort_values("seed")


def _measure(table: pd.DataFrame, column: str, name: str, method: str, experiment: str | None = None,
             seeds=None) -> Measurements:
    """``column`` of ``method`` on ``name`` over its seeds (only ``seeds`` if given)."""
    return measurements(_rows(table, name, method, experiment, seeds), column)


def _summary(table: pd.DataFrame, column: str) -> str:
    return f"{Measurements.of(table[column], table['seed']).summary()} ({len(table)})"


def comparison_table(scale: str | None = None) -> pd.DataFrame:
    """Test mAP@class in %, ``mean ± std (seeds)``, of every method on each data set, with the
    main paper's Table 1 column (a dash: its numbers are not in the supplement we hold)."""
    table, _ = run_chapter(scale)
    table = table[table["experiment"].isin(["comparison", "full labels"])]
    methods = ["AN", *BASELINES, "EM", "EM + APL", FULL_LABEL_METHOD]
    output = pd.DataFrame({name: [_summary(_rows(table, name, m), "mAP_class") for m in methods]
                           for name in table["dataset"].unique()}, index=methods)
    output["paper (Table 1)"] = paper_number(None)
    return output


# --------------------------------------------------------------------------- predictions
TRAIN_LOGITS = "train_logits.pt"


def training_logits(result: RunResult, data: MultiLabelData) -> torch.Tensor:
    """Logits ``[N, C]`` of a run's selected model on the training split (computed once, then
    read from the run's folder)."""
    path = result.run_dir / TRAIN_LOGITS
    stored = load_state(path)
    if stored is None:
        stored = {"train": predict(result.load_model(), data.train.inputs)}
        save_atomic(stored, path)
    return stored["train"]


def probabilities(result: RunResult, data: MultiLabelData, split: str) -> torch.Tensor:
    """Sigmoid probabilities of a run's selected model on ``split`` ("train", "val" or "test")."""
    logits = training_logits(result, data) if split == "train" else evaluation_logits(result, data)[split]
    return torch.sigmoid(logits)


def _entry_masks(split: LabelledSplit) -> dict[str, torch.Tensor]:
    unknown = split.targets == -1
    return {"annotated positive": split.targets == 1,
            "unannotated positive": unknown & (split.true_targets == 1),
            "unannotated negative": unknown & (split.true_targets == 0)}


def _selected(scale: str | None, methods=("AN", "EM")):
    """(data set, method, seed, result) of the headline runs of ``methods``."""
    table, results = run_chapter(scale)
    rows = table[(table["experiment"] == "comparison") & table["method"].isin(methods)]
    return [(r.dataset, r.method, r.seed, results[r.run_key]) for r in rows.itertuples()]


def training_statistics(scale: str | None = None) -> pd.DataFrame:
    """Per data set, method (AN, EM) and headline seed, the selected model on the unknown
    training entries: the mAP over classes of those entries alone (hidden positives ranked
    above true negatives, Fig. 11), the median probability of the hidden positives (Fig. 9),
    both in %, and the mean |logit| of the hidden positives and of the true negatives (Fig. 8)."""
    rows = []
    for name, method, seed, result in _selected(scale):
        train = chapter_data(name, scale).train
        logits = training_logits(result, chapter_data(name, scale))
        masks = _entry_masks(train)
        unknown_truth = torch.where(train.targets == -1, train.true_targets, torch.full_like(train.targets, -1.0))
        rows.append({"dataset": name, "method": method, "seed": seed,
                     "unannotated mAP": 100 * float(np.nanmean(class_average_precisions(logits, unknown_truth))),
                     "median p, unannotated positives": 100 * float(
                         torch.sigmoid(logits[masks["unannotated positive"]]).median()),
                     "|logit|, unannotated positives": float(logits[masks["unannotated positive"]].abs().mean()),
                     "|logit|, unannotated negatives": float(logits[masks["unannotated negative"]].abs().mean())})
    return pd.DataFrame(rows)


def training_logits_per_epoch(config: TrainConfig, data: MultiLabelData, runs_dir=None) -> torch.Tensor:
    """``[epochs + 1, N, C]``: the eval-mode logits of the training split before training (row
    0) and after every epoch (row e) of the run ``config`` (the trainer's own loop and seed, so
    the same run as ``train(config, data)``), stored in the runs folder as
    ``trajectory-<key>/train_logits.pt`` and loaded from there.

    The trainer keeps only the selected model and the last checkpoint; this calls
    :meth:`~mlteach.train.trainer.Trainer.fit` with a per-epoch callback that predicts the
    training split, so it trains the run once more (in this process).
    """
    settings = {k: v for k, v in config.to_dict().items() if k != "progress"}
    key = hash_key({"training logits per epoch": settings, "data": data_fingerprint(data), "code": code_version()})
    path = runs_folder(runs_dir) / f"trajectory-{key}" / "train_logits.pt"
    stored = load_state(path)
    if stored is not None:
        return stored["logits"]
    trainer = Trainer(config.replace(progress=False), data, resolve_runtime(config), runs_dir=runs_dir)
    per_epoch = [trainer.predict("train").cpu()]
    trainer.fit(lambda state: per_epoch.append(trainer.predict("train").cpu()))
    logits = torch.stack(per_epoch)
    save_atomic({"logits": logits}, path)
    return logits


@functools.lru_cache(maxsize=4)
def _trajectories(scale: str) -> dict[tuple[str, str, int], torch.Tensor]:
    output = {}
    for name, setting in data_settings(scale).items():
        for method in ("AN", "EM"):
            for seed in SWEEP_SEEDS:
                config = method_config(setting, method).replace(seed=seed)
                output[(name, method, seed)] = training_logits_per_epoch(config, chapter_data(name, scale))
    return output


def trajectories(scale: str | None = None) -> dict[tuple[str, str, int], torch.Tensor]:
    """Per (data set, "AN" | "EM", seed of ``SWEEP_SEEDS``): the training logits before training
    and after every epoch (:func:`training_logits_per_epoch`)."""
    return _trajectories(scale or current_scale())


def positive_loss_curves(scale: str | None = None) -> pd.DataFrame:
    """Fig. 7: per data set, method, seed and epoch (0: before training), the mean loss -log p
    of the annotated positives of the training set (eval-mode predictions after the epoch)."""
    rows = []
    for (name, method, seed), logits in trajectories(scale).items():
        positive = _entry_masks(chapter_data(name, scale).train)["annotated positive"]
        for epoch, epoch_logits in enumerate(logits):
            loss = torch.nn.functional.softplus(-epoch_logits[positive]).mean()
            rows.append({"dataset": name, "method": method, "seed": seed, "epoch": epoch, "positive loss": float(loss)})
    return pd.DataFrame(rows)


def logit_magnitudes(scale: str | None = None) -> pd.DataFrame:
    """Fig. 8: per data set, method, seed, epoch (0: before training) and kind of unannotated
    entry (truly positive or negative), the mean absolute logit on the training set."""
    rows = []
    for (name, method, seed), logits in trajectories(scale).items():
        masks = _entry_masks(chapter_data(name, scale).train)
        for epoch, epoch_logits in enumerate(logits):
            for kind in ("unannotated positive", "unannotated negative"):
                rows.append({"dataset": name, "method": method, "seed": seed, "epoch": epoch, "entries": kind,
                             "mean |logit|": float(epoch_logits[masks[kind]].abs().mean())})
    return pd.DataFrame(rows)


def positive_probabilities(scale: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Fig. 9: the predicted probability of every annotated and unannotated positive of the
    training set under AN and EM (selected models of ``seed``)."""
    frames = []
    for name, method, run_seed, result in _selected(scale):
        if run_seed != seed:
            continue
        masks = _entry_masks(chapter_data(name, scale).train)
        p = probabilities(result, chapter_data(name, scale), "train")
        for kind in ("annotated positive", "unannotated positive"):
            frames.append(pd.DataFrame({"dataset": name, "method": method, "entries": kind,
                                        "probability": p[masks[kind]].numpy()}))
    return pd.concat(frames, ignore_index=True)


def unannotated_proportions(split: LabelledSplit, class_names: list[str]) -> pd.DataFrame:
    """Fig. 10: per class, the shares of its unknown entries that are truly positive and truly
    negative."""
    unknown = split.targets == -1
    positive = (unknown & (split.true_targets == 1)).sum(dim=0).float()
    negative = (unknown & (split.true_targets == 0)).sum(dim=0).float()
    total = unknown.sum(dim=0).float()
    return pd.DataFrame({"class": class_names, "unannotated positive": (positive / total).numpy(),
                         "unannotated negative": (negative / total).numpy()})


def negative_shares(name: str, scale: str | None = None) -> Measurements:
    """Fig. 10 as a measurement: for each draw of the single positive labels (``HEADLINE_SEEDS``),
    the lowest share, over classes, of a class's unknown training entries that are truly
    negative, in %, with its values on bootstrap resamples of the training images (a class
    without unknown entries in a resample is left out of that resample's minimum)."""
    values, replicates = [], []
    for seed in HEADLINE_SEEDS:
        train = chapter_data(name, scale, label_seed=seed).train
        unknown = (train.targets == -1).double()
        negative = unknown * (train.true_targets == 0).double()
        multiplicity = _multiplicity(image_resamples(len(train)))
        values.append(100 * float((negative.sum(0) / unknown.sum(0)).min()))
        replicates.append(100 * np.nanmin(((multiplicity @ negative) / (multiplicity @ unknown)).numpy(), axis=1))
    return Measurements(np.array(values), np.stack(replicates), tuple(HEADLINE_SEEDS))


def hidden_positive_share(name: str, scale: str | None = None) -> float:
    """Share (%) of the unknown training entries of data set ``name`` that are truly positive."""
    train = chapter_data(name, scale).train
    return 100 * float((train.true_targets[train.targets == -1] == 1).float().mean())


def paper_hidden_positive_shares() -> pd.Series:
    """The same share (%) on the four benchmarks, from Table 4: (positives per training image
    - 1) hidden positives among (classes - 1) unknown labels per image."""
    positives, classes = PAPER_TABLE4.loc["positives per training image"], PAPER_TABLE4.loc["classes"]
    return 100 * (positives - 1) / (classes - 1)


def hidden_positive_table(scale: str | None = None) -> pd.DataFrame:
    """Classes and the share (%) of hidden positives among the unknown training labels, our
    data sets beside the four benchmarks (Table 4)."""
    ours = {name: (len(chapter_data(name, scale).class_names), hidden_positive_share(name, scale), "ours")
            for name in data_settings(scale)}
    paper = {name: (int(PAPER_TABLE4.loc["classes", name]), share, "EM suppl., Table 4")
             for name, share in paper_hidden_positive_shares().items()}
    return pd.DataFrame.from_dict({**ours, **paper}, orient="index", columns=[
        "classes", "hidden positives among the unknown labels (%)", "source"])


def probability_densities(name: str, scale: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Fig. 11: for the density classes of ``name``, the predicted probabilities of the
    unannotated training entries and of the test entries, with their true label, under AN and EM
    (selected models of ``seed``)."""
    setting, data = data_settings(scale)[name], chapter_data(name, scale)
    frames = []
    for data_name, method, run_seed, result in _selected(scale):
        if data_name != name or run_seed != seed:
            continue
        for split_name, keep in (("train (unannotated)", data.train.targets == -1),
                                 ("test", torch.ones_like(data.test.targets, dtype=torch.bool))):
            split = split_name.split()[0]
            p = probabilities(result, data, split)
            for c in setting.density_classes:
                rows = keep[:, c]
                truth = np.where(getattr(data, split).true_targets[rows, c].numpy() == 1, "positive", "negative")
                frames.append(pd.DataFrame({"method": method, "class": data.class_names[c],
                                            "entries": [f"{split_name}, {t}" for t in truth],
                                            "probability": p[rows, c].numpy()}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- Tables 6 and 7
def simulated_pseudo_labels(probabilities: torch.Tensor, split: LabelledSplit, warmup_epochs: int,
                            proportion: float, positive: bool) -> torch.Tensor:
    """The entries APL's schedule would label from ``probabilities`` ``[E + 1, N, C]`` (row e:
    after epoch e, as :func:`training_logits_per_epoch`) if the model did not learn from them,
    from epoch ``warmup_epochs`` on: negatives (lowest probabilities) or, with ``positive``,
    positives (highest), with sample proportion ``proportion``. Returns the bool mask of
    labelled entries."""
    epochs = probabilities.shape[0] - 1
    pseudo = torch.full_like(split.targets, math.nan)
    unknown_per_class = (split.targets == -1).sum(dim=0)
    theta, positive_theta = (0.0, proportion) if positive else (proportion, 0.0)
    for epoch in range(warmup_epochs, epochs + 1):
        pseudo = apl_pseudo_labels(probabilities[epoch], split.targets, pseudo, unknown_per_class, epoch=epoch,
                                   warmup_epochs=warmup_epochs, total_epochs=epochs, theta=theta,
                                   positive_theta=positive_theta)
    return ~torch.isnan(pseudo)


def apl_precision(scale: str | None = None) -> pd.DataFrame:
    """Per data set, APL run (EM + APL and its variants), seed, epoch and kind of pseudo-label
    (negative, positive): how many APL added after that epoch and the share of them that the
    ground truth confirms (from the training records)."""
    table, results = run_chapter(scale)
    rows = []
    for run in table.itertuples():
        result = results[run.run_key]
        if result.config.apl_warmup_epochs is None:
            continue
        records = result.records.query("split == 'train'").dropna(subset=["labels_modified"])
        for record in records.itertuples():
            positive = record.positive_labels_added
            positive_right = positive * record.positive_label_precision if positive else 0
            negative = record.labels_modified - positive
            negative_right = record.labels_modified * np.nan_to_num(record.modified_precision) - positive_right
            for kind, added, right in (("negative", negative, negative_right), ("positive", positive, positive_right)):
                rows.append({"dataset": run.dataset, "method": run.method, "seed": run.seed, "epoch": record.epoch,
                             "pseudo-labels": kind, "added": int(added), "right": float(right),
                             "precision": right / added if added else math.nan})
    return pd.DataFrame(rows)


def pseudo_label_precision(scale: str | None = None) -> pd.DataFrame:
    """Table 6 and its negative counterpart, from the variant with positive pseudo-labelling
    (:data:`POSITIVE_PROPORTION` of positives next to APL's 90 % of negatives), per data set,
    seed and kind: how many pseudo-labels it made over training and the share that are right
    (%), beside the share of right labels that labelling unknown entries at random would give."""
    per_epoch = apl_precision(scale).query("method == @POSITIVE")
    totals = per_epoch.groupby(["dataset", "seed", "pseudo-labels"], sort=False)[["added", "right"]].sum()
    rows = []
    for (name, seed, kind), (count, right) in totals.iterrows():
        hidden = hidden_positive_share(name, scale)
        rows.append({"dataset": name, "seed": seed, "pseudo-labels": kind,
                     "sample proportion (%)": 100 * (POSITIVE_PROPORTION if kind == "positive" else APLVariant().theta),
                     "count": int(count), "precision (%)": 100 * right / count if count else math.nan,
                     "random labelling (%)": hidden if kind == "positive" else 100 - hidden})
    return pd.DataFrame(rows)


def table6(scale: str | None = None) -> pd.DataFrame:
    """Table 6 beside ours: per data set and kind of pseudo-label, the mean count over seeds,
    the precision (%, mean and std over seeds), the precision of random labelling and the
    paper's precisions (for positive pseudo-labels)."""
    paper = ", ".join(f"{k} {paper_number(v)}" for k, v in PAPER_TABLE6.items())
    summary = pseudo_label_precision(scale).groupby(["dataset", "pseudo-labels"], sort=False).agg(**{
        "count": ("count", "mean"), "precision (%)": ("precision (%)", "mean"), "std": ("precision (%)", "std"),
        "random labelling (%)": ("random labelling (%)", "first")})
    summary["paper (Table 6, %)"] = [paper if kind == "positive" else paper_number(None) for _, kind in summary.index]
    return summary.rename_axis([None, None])


def f1_table(scale: str | None = None) -> pd.DataFrame:
    """Table 7: test micro- and macro-F1 in % (``mean ± std (seeds)``) of full-label BCE, AN and
    EM at each threshold of :data:`F1_THRESHOLDS`."""
    table, _ = run_chapter(scale)
    rows = []
    for name in table["dataset"].unique():
        for method in ("AN", "EM", FULL_LABEL_METHOD):
            part = _rows(table, name, method, "full labels" if method == FULL_LABEL_METHOD else "comparison")
            rows.append({"dataset": name, "method": method,
                         **{(metric, threshold): _summary(part, f"{metric}@{threshold}")
                            for metric in ("micro-F1", "macro-F1") for threshold in F1_THRESHOLDS}})
    output = pd.DataFrame(rows).set_index(["dataset", "method"]).rename_axis([None, None])
    output.columns = pd.MultiIndex.from_tuples(output.columns)
    return output


# --------------------------------------------------------------------------- APL questions
def apl_table(scale: str | None = None) -> pd.DataFrame:
    """Test mAP in % (``mean ± std (seeds)``, ``SWEEP_SEEDS``) of EM, EM + APL and the APL
    variants, per data set."""
    table, _ = run_chapter(scale)
    methods = ["EM", "EM + APL"] + list(APL_VARIANTS)
    return pd.DataFrame({name: [_summary(_rows(table, name, m, seeds=SWEEP_SEEDS), "mAP_class") for m in methods]
                         for name in table["dataset"].unique()}, index=methods)


def soft_label_noise(scale: str | None = None) -> pd.DataFrame:
    """Why soft targets matter (Q2): the negative pseudo-labels in the last checkpoint of each
    EM + APL run (``SWEEP_SEEDS``): how many there are, the share that are wrong (truly
    positive), and the mean soft target s = p of the wrong and of the right ones (a hard label
    gives every one of them 0). Mean over seeds per data set."""
    table, results = run_chapter(scale)
    rows = []
    for run in table[(table["method"] == "EM + APL") & table["seed"].isin(SWEEP_SEEDS)].itertuples():
        train = chapter_data(run.dataset, scale).train
        pseudo = load_state(results[run.run_key].checkpoint_path)["labels"]["pseudo_targets"]
        labelled = ~torch.isnan(pseudo)
        wrong, right = labelled & (train.true_targets == 1), labelled & (train.true_targets == 0)
        rows.append({"dataset": run.dataset, "pseudo-labels": int(labelled.sum()),
                     "wrong share": float(wrong.sum() / labelled.sum()),
                     "soft target on wrong ones": float(pseudo[wrong].mean()),
                     "soft target on right ones": float(pseudo[right].mean())})
    return pd.DataFrame(rows).groupby("dataset", sort=False).mean().rename_axis(None)


# --------------------------------------------------------------------------- figures
def plot_positive_loss(curves: pd.DataFrame):
    """Fig. 7: loss of the annotated positives per epoch, AN against EM (mean over seeds with a
    95 % band), one panel per data set."""
    import seaborn as sns

    grid = sns.relplot(data=curves, x="epoch", y="positive loss", hue="method", col="dataset", kind="line",
                       marker="o", height=3.0, aspect=1.2, facet_kws={"sharex": False, "sharey": True})
    grid.set_axis_labels("epoch", "mean -log p of annotated positives")
    return grid


def plot_logit_magnitudes(magnitudes: pd.DataFrame):
    """Fig. 8: mean |logit| of unannotated positives and negatives per epoch (EM solid, AN
    dashed; mean over seeds), one panel per data set."""
    import seaborn as sns

    return sns.relplot(data=magnitudes, x="epoch", y="mean |logit|", hue="entries", style="method",
                       style_order=["EM", "AN"], col="dataset", kind="line", marker="o", errorbar=None,
                       height=3.0, aspect=1.2, facet_kws={"sharex": False, "sharey": True})


def plot_positive_probabilities(probabilities: pd.DataFrame):
    """Fig. 9: violin plots (with quartiles) of the probabilities of annotated and unannotated
    positives, AN vs EM."""
    import seaborn as sns

    grid = sns.catplot(data=probabilities, x="entries", y="probability", hue="method", col="dataset",
                       kind="violin", cut=0, inner="quart", density_norm="width", height=3.2, aspect=1.2)
    grid.set_axis_labels("", "predicted probability")
    return grid


def plot_unannotated_proportions(proportions: pd.DataFrame, theta: float = 0.9, ax=None):
    """Fig. 10: stacked bars of the unannotated positive and negative shares per class, with the
    APL sample proportion theta as a dashed line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 3))[1]
    ax.bar(proportions["class"], proportions["unannotated negative"], label="unannotated negative")
    ax.bar(proportions["class"], proportions["unannotated positive"], bottom=proportions["unannotated negative"],
           label="unannotated positive")
    ax.axhline(theta, color="0.2", linestyle="--", linewidth=1, label=f"APL theta = {theta:g}")
    ax.set(xlabel="class", ylabel="share of the unknown entries", ylim=(0, 1.3), yticks=[0, 0.25, 0.5, 0.75, 1])
    ax.legend(loc="upper center", ncol=3, fontsize=7, frameon=False)
    return ax


def plot_probability_densities(densities: pd.DataFrame):
    """Fig. 11: densities of the predicted probabilities per class (columns), AN and EM (rows),
    coloured by entry kind (unannotated training entries and test entries, positive or negative)."""
    import seaborn as sns

    return sns.displot(data=densities, x="probability", hue="entries", row="method", col="class", kind="kde",
                       common_norm=False, clip=(0, 1), height=2.4, aspect=1.2)


def plot_apl_precision(precision: pd.DataFrame):
    """Precision of the pseudo-labels each APL run adds per epoch (mean over seeds): one line per
    variant, solid for negative and dashed for positive pseudo-labels, one panel per data set."""
    import seaborn as sns

    grid = sns.relplot(data=precision.dropna(subset=["precision"]), x="epoch", y="precision", hue="method",
                       style="pseudo-labels", style_order=["negative", "positive"], col="dataset", kind="line",
                       marker="o", errorbar=None, height=3.2, aspect=1.2, facet_kws={"sharex": False, "sharey": True})
    grid.set_axis_labels("epoch", "share confirmed by the ground truth")
    return grid


# --------------------------------------------------------------------------- claims
#: Where each kind of claim is measured: a section of the notebook page.
LINKS = {name: f"{PAGE}#{section}" for name, section in {
    "Table 1": "experiment-1-the-comparison", "control": "experiment-1-the-comparison",
    "Figs. 7 and 8": "experiment-2-what-the-losses-do-during-training",
    "Figs. 9 to 11": "experiment-3-predictions-of-the-trained-models", "Table 6": "table-6-positive-pseudo-labels",
    "Table 7": "table-7-f1-at-a-threshold", "Sec. D": "experiment-5-the-apl-questions"}.items()}
COMPARISON, CONTROL, TRAINING, PREDICTIONS, TABLE6, TABLE7, QUESTIONS = LINKS.values()


def _constant(value: float, like: Measurements) -> Measurements:
    """A fixed reference value (a chance level, a cut the paper states) on ``like``'s seeds."""
    replicates = None if like.replicates is None else np.full_like(like.replicates, value)
    return Measurements(np.full(len(like.values), float(value)), replicates, like.seeds)


def _per_seed(frame: pd.DataFrame, column: str) -> Measurements:
    frame = frame.sort_values("seed")
    return Measurements.of(frame[column].to_numpy(dtype=float), frame["seed"])


def _headline_claims(claim, table: pd.DataFrame, name: str, hidden: str) -> list[Claim]:
    """Table 1 analogues on the headline seeds, and the A/A control of AN."""
    em, an, apl, control = (_measure(table, "mAP_class", name, method, experiment) for method, experiment in (
        ("EM", "comparison"), ("AN", "comparison"), ("EM + APL", "comparison"), ("AN", "control")))
    baseline = best_baseline(table, name)
    best = _measure(table, "mAP_class", name, baseline, "comparison")
    source = "EM paper, Table 1 (main text)"
    return [
        claim(em, an, claim="EM beats AN", source=source, paper="EM above AN on VOC, COCO, NUS and CUB",
              link=COMPARISON),
        claim(em, best, claim="EM beats the best weak baseline (chosen on validation)",
              ours=f"EM {em.summary()} vs {baseline} {best.summary()}",
              source=f"{source}; baselines of suppl. Sec. C.2", paper="EM above DW, LS, N-LS, EntMin, focal and ASL",
              link=COMPARISON, if_not=f"{baseline} favours the annotated positives over the assumed negatives, which "
                                      f"pays where {hidden}; the baselines keep the paper's COCO settings"),
        claim(apl, em, claim="APL adds to EM", source=source, paper="EM + APL above EM on all four", link=COMPARISON,
              if_not=_apl_note(table, name, hidden)),
        claim(an, control, kind="control", claim=f"A/A control: AN (seeds {an.seeds[0]}-{an.seeds[-1]}) vs AN "
                                                 f"(seeds {control.seeds[0]}-{control.seeds[-1]})",
              source="negative control", paper=paper_number(None), link=CONTROL)]


def _apl_note(table: pd.DataFrame, name: str, hidden: str) -> str:
    """Why APL may not add to EM on ``name``: no headroom left, or too many hidden positives
    for APL's 90 % negative quota."""
    em, full = (_rows(table, name, method, experiment)["mAP_class"].mean()
                for method, experiment in (("EM", "comparison"), (FULL_LABEL_METHOD, "full labels")))
    if em >= full - 1:
        return (f"EM alone already scores {em:.1f} test mAP against full-label BCE's {full:.1f}, so the "
                f"pseudo-labels have nothing left to recover ({hidden})")
    return f"{hidden}, so a 90 % negative quota labels hidden positives as negatives (Fig. 10)"


def _mechanism_claims(claim, name: str, scale: str) -> list[Claim]:
    """Figs. 7 (replayed runs of ``SWEEP_SEEDS``), 8, 9 and 11 (selected models of the headline
    seeds) and 10 (label draws)."""
    losses = positive_loss_curves(scale).query("dataset == @name").pivot_table(
        index=["method", "seed"], columns="epoch", values="positive loss")
    epochs = losses.columns.max()
    early = max(1, epochs // 2)
    seeds = tuple(int(s) for s in losses.loc["AN"].index)
    rise, start = Measurements.of(losses.loc["AN"].loc[:, 1:early].max(axis=1), seeds), Measurements.of(
        losses.loc["AN"][0], seeds)
    an_mean, em_mean = (Measurements.of(losses.loc[m].loc[:, 1:].mean(axis=1), seeds) for m in ("AN", "EM"))
    statistics = training_statistics(scale).query("dataset == @name")
    em, an = (statistics.query("method == @m") for m in ("EM", "AN"))
    magnitude = [_per_seed(em, f"|logit|, unannotated {kind}") for kind in ("positives", "negatives")]
    median, ranking = ([_per_seed(rows, column) for rows in (em, an)]
                       for column in ("median p, unannotated positives", "unannotated mAP"))
    shares = negative_shares(name, scale)
    below = int((unannotated_proportions(chapter_data(name, scale).train, chapter_data(name, scale).class_names)[
        "unannotated negative"] < APLVariant().theta).sum())
    common = 100 * float(chapter_data(name, scale).train.true_targets.mean(0).max())
    fig7, fig10 = "EM suppl., Sec. B.1 and Fig. 7", "EM suppl., Sec. F.1 and Fig. 10"
    return [
        claim(rise, start, claim="under AN the loss of the annotated positives rises in early training", source=fig7,
              paper="rises early on all four data sets", link=TRAINING,
              ours=f"highest in epochs 1-{early} {rise.summary(3)} vs before training {start.summary(3)}"),
        claim(an_mean, em_mean, claim="EM keeps the loss of the annotated positives below AN's", source=fig7,
              paper="lower and steadier on all four data sets", link=TRAINING,
              ours=f"mean over epochs 1-{epochs}: AN {an_mean.summary(3)} vs EM {em_mean.summary(3)}"),
        claim(*magnitude, claim="under EM, unannotated positives get larger |logits| than unannotated negatives",
              source="EM suppl., Secs. B.1, B.3 and Fig. 8", paper="negatives near 0, positives clearly larger",
              link=TRAINING,
              ours=f"hidden positives {magnitude[0].summary(2)} vs true negatives {magnitude[1].summary(2)}"),
        claim(*median, claim="EM gives the unannotated positives higher probabilities than AN (median, %)",
              source="EM suppl., Sec. B.2 and Fig. 9", paper="AN low, EM confident", link=PREDICTIONS,
              ours=f"EM {median[0].summary()} vs AN {median[1].summary()}"),
        claim(*ranking, claim="EM separates hidden positives from negatives among the unknown training entries better "
                              "than AN (mAP of the unknown entries, %)", source="EM suppl., Sec. F.2 and Fig. 11",
              paper="more distinguishable densities", link=PREDICTIONS,
              ours=f"EM {ranking[0].summary()} vs AN {ranking[1].summary()}"),
        claim(shares, _constant(50, shares), claim="in every class most unknown entries are negatives (lowest class "
                                                   "share above 50 %)", source=fig10,
              paper="an inherent imbalance of single positive labels", link=PREDICTIONS,
              ours=f"lowest class share {shares.summary()} % over {len(shares.seeds)} label draws",
              if_not="some of our classes are present in most samples, where the benchmarks' classes are rare"),
        claim(_constant(100 * APLVariant().theta, shares), shares,
              claim="some classes have fewer unknown negatives than APL's theta = 90 %", source=fig10,
              paper="true for some classes", link=PREDICTIONS,
              ours=f"lowest class share {shares.summary()} %; {below} classes below 90 % in the chapter's draw",
              if_not=f"our most frequent class is in only {common:.0f} % of the training images, so even its unknown "
                     "entries are almost all negatives; the benchmarks' most common classes (person) are far "
                     "more frequent")]


def _table_claims(claim, table: pd.DataFrame, name: str, scale: str, hidden: str) -> list[Claim]:
    """Table 6 (the variant with positive pseudo-labels, ``SWEEP_SEEDS``) and Table 7 (test F1)."""
    precision = pseudo_label_precision(scale).query("dataset == @name")
    positive, negative = (_per_seed(precision.query("`pseudo-labels` == @kind"), "precision (%)")
                          for kind in ("positive", "negative"))
    table6 = ", ".join(f"{k} {paper_number(v)}" for k, v in PAPER_TABLE6.items())
    output = [
        claim(_constant(50, positive), positive, claim="positive pseudo-labels at a 10 % sample proportion are mostly "
                                                       "wrong (effect: 50 % minus their precision)",
              source="EM suppl., Table 6 and Sec. D, Q4", paper=f"precision (%): {table6}", link=TABLE6,
              ours=f"precision {positive.summary()} % (random labelling {hidden_positive_share(name, scale):.1f} %)",
              if_not=f"{hidden}, so the most confident unknown entries are often right"),
        claim(negative, positive, claim="positive pseudo-labels are less precise than APL's negative ones",
              source="EM suppl., Sec. D, Q4 (the imbalance of the unknown entries)", link=TABLE6,
              paper=f"positive {table6}; negative: precise (main paper)",
              ours=f"negative {negative.summary()} % vs positive {positive.summary()} %")]
    for metric in ("micro-F1", "macro-F1"):
        output.append(claim(_measure(table, f"{metric}@0.75", name, "EM", "comparison"),
                            _measure(table, f"{metric}@0.5", name, "AN", "comparison"), kind="greater", link=TABLE7,
                            claim=f"{metric} of EM (threshold 0.75) beats AN's (threshold 0.5)",
                            source="EM suppl., Table 7", paper="AN poor everywhere (0 on CUB); EM good"))
    output.append(claim(
        _measure(table, "micro-F1@0.75", name, "EM", "comparison", SWEEP_SEEDS),
        _measure(table, "micro-F1@0.5", name, FULL_LABEL_METHOD, "full labels"), kind="greater", link=TABLE7,
        claim="EM's micro-F1 (threshold 0.75) beats full-label BCE's (threshold 0.5)", source="EM suppl., Sec. E",
        paper=f"VOC: EM {paper_number(PAPER_EM_MICRO_F1_VOC)}, above BCE with full labels",
        if_not="full labels carry far more information than one positive per sample; the paper's result is VOC's"))
    return output


def _proportion_note(name: str, scale: str, hidden: str) -> str:
    """Why theta = 0.9 may not beat 0.1 on ``name``, from the least negative class's share of
    unknown negatives (Fig. 10)."""
    lowest = float(negative_shares(name, scale).values.mean())
    if lowest > 100 * APLVariant().theta:
        return (f"{hidden}: even the least negative class keeps {lowest:.1f} % unknown negatives, above theta = "
                "90 %, so both proportions pseudo-label almost only negatives and differ little")
    return f"{hidden}, so theta = 0.9 exceeds the unknown negatives of some classes (Fig. 10)"


def _question_claims(claim, table: pd.DataFrame, name: str, scale: str, hidden: str) -> list[Claim]:
    """The APL questions of Sec. D on ``SWEEP_SEEDS``: EM + APL against the variant of each."""
    mean_ap = {v: _measure(table, "mAP_class", name, v, "APL questions") for v in APL_VARIANTS}
    mean_ap["EM + APL"] = _measure(table, "mAP_class", name, "EM + APL", "comparison", SWEEP_SEEDS)
    part = table[(table["dataset"] == name) & (table["experiment"] != "control")]
    beta = max(("EM + APL", LOW_BETA), key=lambda m: _mean_validation(part, m))
    positive = pseudo_label_precision(scale).query("dataset == @name and `pseudo-labels` == 'positive'")
    questions = [
        ("EM + APL", LOW_PROPORTION, "a high sample proportion (theta 0.9) beats a low one (0.1)",
         "Q1 sample proportion", _proportion_note(name, scale, hidden)),
        ("EM + APL", HARD, "soft negative pseudo-labels (s = p) beat hard ones (s = 0)", "Q2 hard vs soft",
         "soft targets only soften the wrong pseudo-labels where those get higher targets than the right ones"),
        (beta, NO_DOWN_WEIGHTING, "down-weighting the pseudo-labels (beta < 1, chosen on validation) beats beta = 1",
         "Q3 down-weighting", "the pseudo-labels enter late and are few per epoch at our scale"),
        ("EM + APL", POSITIVE, "adding positive pseudo-labels (10 %) lowers mAP", "Q4 positive pseudo-labels",
         f"{positive['precision (%)'].mean():.0f} % of our positive pseudo-labels are right against 9-19 % in "
         "Table 6, so they add little noise")]
    return [claim(mean_ap[a], mean_ap[b], kind="greater", claim=text, source=f"EM suppl., Sec. D, {key.split()[0]}",
                  paper=PAPER_APL_ANSWERS[key], link=QUESTIONS, if_not=if_not,
                  ours=f"{a}: {mean_ap[a].summary()} vs {b}: {mean_ap[b].summary()}")
            for a, b, text, key, if_not in questions]


def claims(scale: str | None = None) -> list[Claim]:
    """Every claim of the chapter decided from our runs (trains what is not cached): per data
    set the headline comparison (5 seeds) with its A/A control, the mechanism checks of
    Figs. 7-11, Tables 6 and 7 and the APL questions of Sec. D."""
    scale = scale or current_scale()
    table, _ = run_chapter(scale)
    output: list[Claim] = []
    for name in data_settings(scale):
        def claim(a, b, claim, kind="mechanism", **fields):
            return compare(a, b, chapter=CHAPTER, claim=f"{name}: {claim}", dataset=name, kind=kind,
                           classes=len(chapter_data(name, scale).class_names), **fields)

        benchmarks, share = paper_hidden_positive_shares(), hidden_positive_share(name, scale)
        where = "inside" if benchmarks.min() <= share <= benchmarks.max() else "outside"
        hidden = (f"{share:.1f} % of our unknown entries are hidden positives, {where} the benchmarks' "
                  f"{benchmarks.min():.0f}-{benchmarks.max():.0f} %")
        output += _headline_claims(functools.partial(claim, kind="greater"), table, name, hidden)
        output += _mechanism_claims(claim, name, scale)
        output += _table_claims(claim, table, name, scale, hidden)
        output += _question_claims(claim, table, name, scale, hidden)
    return output
