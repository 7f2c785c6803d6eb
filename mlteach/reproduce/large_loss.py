"""Chapter 4 reproduction: Large Loss Matters (Kim et al., CVPR 2022) at book scale.

Experiments (planned as :class:`~mlteach.reproduce.experiment.Run` lists, trained and scored
by :func:`run_all` into one tidy run table), on single-positive digit mosaics, the same mosaics
with every label hidden at random (our stand-in for the real partial labels of the
supplement's Table 2) and single-positive yeast:

1. **Selection** (experiment ``"grid"``): every method at every setting of a reduced grid,
   with one seed; per method the setting with the best validation mAP is kept, and
   "LL-relative" is the relative scheme (LL-R, LL-Ct or LL-Cp) with the best validation mAP,
   as in the supplement. One seed suffices: this is a selection, not a verdict.
2. **Comparison** (supplement Tables 1 and 2): naive AN, LL-relative and the three absolute
   variants on :data:`~mlteach.reproduce.experiment.HEADLINE_SEEDS`; the two other relative
   schemes on :data:`~mlteach.reproduce.experiment.SWEEP_SEEDS`.
3. **LinearInit** (supplement Sec. A): AN and LL-relative after a linear phase on the frozen
   pretrained backbone, on the single-positive mosaics, sweep seeds.
4. **Memorisation** (the main paper's Sec. 3): AN and the three relative schemes trained many
   epochs at a constant learning rate on yeast, headline seeds (:func:`memorisation_runs`).
5. **Control**: AN again on :data:`~mlteach.reproduce.experiment.CONTROL_SEEDS` (A/A).

Every scored run also carries what the analyses need (:func:`score_run`): the precision of the
entries its Large Loss scheme modified, AN's memorisation signature on the training set, and,
on mosaics, how well its class activation maps localise the digits (:func:`localisation_scores`).
:func:`claims` decides every claim of the chapter from that table.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..data.builders import build_dataset
from ..data.regimes import annotation_groups, apply_partial, apply_single_positive
from ..data.splits import LabelledSplit, MultiLabelData
from ..models import class_activation_maps
from ..train import PretrainConfig, RunResult, TrainConfig, pretrained_backbone
from .claims import Claim, compare, paper_number
from .evaluation import BOOT, evaluation_logits, measurements, predict, test_scores
from .evidence import Measurements, image_resamples, mean_replicates
from .experiment import CONTROL_SEEDS, HEADLINE_SEEDS, SWEEP_SEEDS, Run, control_runs, run_table
from .linear_protocol import SCENES_NAME, linear_probe, scene_options
from .scale import current_scale

__all__ = [
    "CHAPTER", "PAGE", "PAPER_TABLE1", "PAPER_TABLE2", "PAPER_SEARCH", "METHODS", "RELATIVE_METHODS",
    "ABSOLUTE_METHODS", "CONTROL_METHOD", "CAM_METHOD", "LINKS", "EQUIVALENCE_MARGIN", "paper_gaps", "DatasetPlan",
    "ChapterPlan", "chapter_plan", "chapter_data", "grid_runs", "select_settings", "best_relative", "planned_runs",
    "run_all", "score_run", "selection_table", "comparison_table", "paper_comparison", "group_table",
    "CLASS_DEPENDENT_HIDING", "ANNOTATION_GROUPS", "DISJOINT_PRETRAINING", "SCENES_SINGLE_POSITIVE", "pretraining_text",
    "linear_init_table",
    "MEMORISATION", "PRECISION", "LOCALISATION", "summary_table", "correction_curves", "hidden_positive_share",
    "cell_index_map", "localisation_scores", "chance_localisation", "plot_cams", "plot_correction_precision",
    "comparison_claims", "equivalence_claims", "linear_init_claims", "precision_claims", "cam_claims",
    "MEMORISATION_METHODS", "memorisation_runs", "early_epoch", "memorisation_curves", "memorisation_table",
    "plot_memorisation", "memorisation_claims", "control_claims", "claims",
]

CHAPTER = "4. Partial labels (Large Loss Matters)"
PAGE = "ch4_partial_experiments.html"

#: Large Loss supplement, Table 1: artificially created partial labels (single positive
#: labels, following Cole et al. 2021), end-to-end training, test mAP in %. "LL-relative" is the
#: best of LL-R, LL-Ct and LL-Cp with the relative schedule.
PAPER_TABLE1 = pd.DataFrame(
    {"VOC": [85.1, 89.2, 89.0, 89.0, 88.7], "COCO": [64.1, 71.0, 70.3, 70.3, 70.5],
     "NUSWIDE": [42.0, 48.3, 47.4, 48.6, 48.0], "CUB": [19.1, 20.4, 20.1, 19.8, 19.8]},
    index=pd.Index(["AN", "LL-relative", "LL-R abs", "LL-Ct abs", "LL-Cp abs"], name="method"))

#: Large Loss supplement, Table 2: OpenImages V3 with real partial labels, mAP in % per group
#: of classes (G1 ... G5) and over all groups.
PAPER_TABLE2 = pd.DataFrame(
    {"G1": [77.1, 77.7, 77.9, 77.5, 77.7], "G2": [78.7, 79.3, 78.8, 79.1, 79.0],
     "G3": [81.5, 82.1, 81.7, 81.8, 81.7], "G4": [84.1, 84.7, 84.1, 84.4, 84.3],
     "G5": [88.8, 89.4, 88.9, 89.3, 88.9], "All Gs": [82.0, 82.6, 82.3, 82.4, 82.3]},
    index=PAPER_TABLE1.index)

#: The backbone the CNNs of chapters 4 and 5 start from: pretrained to tell the rotation of
#: MNIST digits (another source than the mosaics'), so it never saw the labels of the classes it
#: is evaluated on, as an ImageNet backbone never saw COCO's.
DISJOINT_PRETRAINING = PretrainConfig(task="rotation")

#: The partial-label regime beside Table 2 (OpenImages' real partial labels, where how often a
#: class is annotated depends on the class): the probability that a training label of digit
#: class c is hidden, from 80 % (class 0) down to 20 % (class 9), 50 % on average. Our classes
#: are about equally frequent, so the rate goes by class, not by frequency as in OpenImages.
CLASS_DEPENDENT_HIDING = tuple(round(0.8 - 0.6 * c / 9, 4) for c in range(10))
#: The annotation groups of Table 2, least annotated first.
ANNOTATION_GROUPS = ("G1", "G2", "G3", "G4", "G5")

#: Large Loss supplement, Secs. A and B: the hyper-parameter search and training lengths.
#: The relative grid is read as percent of B x C per epoch (as the chapter-4 explorer explains).
PAPER_SEARCH = {
    "delta_rel (percent of B*C per epoch)": (0.1, 0.2, 0.3, 0.4, 0.5),
    "R0": (1.0, 1.5, 2.0),
    "delta_abs": (0.1, 0.15, 0.2),
    "end-to-end epochs": 10,
    "LinearInit: linear epochs, then fine-tuning epochs": (25, 10),
    "classifier learning rate": "10 x the backbone's",
    "selection": "highest validation mAP",
}

#: The 80-class data set: fixed features of digit scenes with one positive label per training
#: image, a linear classifier on top (:mod:`mlteach.reproduce.linear_protocol`). About 2.5 % of
#: its unknown entries are hidden positives, as on COCO, so it searches the supplement's own
#: relative grid (0.1-0.5 % of B x C per epoch) rather than the mosaics' larger one.
SCENES_SINGLE_POSITIVE = f"{SCENES_NAME}, single positive"

#: The compared methods: display name -> (Large Loss scheme or None for AN, schedule).
METHODS: dict[str, tuple[str | None, str | None]] = {
    "AN": (None, None),
    "LL-R": ("LL-R", "relative"), "LL-Ct": ("LL-Ct", "relative"), "LL-Cp": ("LL-Cp", "relative"),
    "LL-R abs": ("LL-R", "absolute"), "LL-Ct abs": ("LL-Ct", "absolute"), "LL-Cp abs": ("LL-Cp", "absolute"),
}
RELATIVE_METHODS = ("LL-R", "LL-Ct", "LL-Cp")
#: The methods of the memorisation experiment.
MEMORISATION_METHODS = ("AN", *RELATIVE_METHODS)
ABSOLUTE_METHODS = ("LL-R abs", "LL-Ct abs", "LL-Cp abs")
#: The chapter's baseline, trained again on the control seeds.
CONTROL_METHOD = "AN"
#: The method whose class activation maps the supplement's Fig. 1 shows against AN's.
CAM_METHOD = "LL-Ct"


def paper_gaps() -> pd.DataFrame:
    """LL-relative minus each absolute variant in the supplement's Table 1 (mAP points), the
    gaps the supplement calls "similar": -0.3 (NUS-WIDE, LL-Ct abs) to 0.9 (NUS-WIDE, LL-R abs)."""
    return (PAPER_TABLE1.loc["LL-relative"] - PAPER_TABLE1.loc[list(ABSOLUTE_METHODS)]).round(1).rename_axis(None)


#: Margin of the claim "the absolute threshold performs like the relative one" (mAP points):
#: the largest gap the supplement calls similar (0.9, :func:`paper_gaps`), rounded up to a point.
EQUIVALENCE_MARGIN = float(math.ceil(paper_gaps().abs().to_numpy().max()))


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class DatasetPlan:
    """One data set of the chapter: ``builder`` (a name of :data:`mlteach.data.builders.BUILDERS`) with ``builder_kwargs``;
    ``regime``: "single positive" or "partial" (each training label hidden with probability
    ``partial_q``, one number or one per class; per class, the test mAP of the annotation groups
    G1-G5 is scored too); ``base``: the training configuration (loss and schedule filled in per run);
    ``delta_rel_grid`` (fractions of B x C per epoch) and ``absolute_grid`` ((R0, delta_abs)
    pairs): the reduced search; ``linear_init``: also train AN and LL-relative with LinearInit;
    ``workers``: processes for training and scoring (None: one per core);
    ``memorisation_epochs``: train AN and the relative schemes this long at a constant learning
    rate to watch the memorisation phase (:func:`memorisation_runs`), or None."""

    builder: str
    builder_kwargs: dict
    regime: str
    base: TrainConfig
    delta_rel_grid: tuple[float, ...]
    absolute_grid: tuple[tuple[float, float], ...]
    linear_init: bool = False
    partial_q: float | tuple[float, ...] = 0.5
    workers: int | None = None
    memorisation_epochs: int | None = None


@dataclass(frozen=True)
class ChapterPlan:
    scale: str
    datasets: dict[str, DatasetPlan] = field(default_factory=dict)
    linear_init_epochs: int = 4
    cam_dataset: str = "digits, single positive"

    def table(self) -> pd.DataFrame:
        """The data and settings of each data set, one column each, for display: sizes,
        classes, true positives and known labels per training image, the share of truly positive
        entries among the unknown ones (what a random correction would hit), training and search."""
        rows = []
        for name, plan in self.datasets.items():
            base, data = plan.base, chapter_data(name, self.scale)
            rows.append({
                "data": name, "size (train/val/test)": f"{len(data.train)}/{len(data.val)}/{len(data.test)}",
                "classes": len(data.class_names),
                "positives per image": f"{float(data.train.true_targets.sum(1).mean()):.2f}",
                "known labels per image": f"{float((data.train.targets != -1).sum(1).float().mean()):.2f}",
                "hidden positives among unknown entries (%)": f"{100 * hidden_positive_share(data.train):.1f}",
                "model": f"{base.model} {base.model_kwargs}" + pretraining_text(base),
                "epochs": base.epochs, "optimiser": f"{base.optimizer} lr={base.lr:g}, {base.lr_schedule}",
                "batch": base.batch_size,
                "Δrel grid (% of B·C)": ", ".join(f"{100 * d:g}" for d in plan.delta_rel_grid),
                "(R0, Δabs) grid": ", ".join(f"({r:g}, {d:g})" for r, d in plan.absolute_grid),
                "seeds (selection / headline / other)": f"1 / {len(HEADLINE_SEEDS)} / {len(SWEEP_SEEDS)}",
                "LinearInit": f"{self.linear_init_epochs} + {base.epochs} epochs" if plan.linear_init else "–"})
        return pd.DataFrame(rows).set_index("data").T.rename_axis(None, axis=1)


def pretraining_text(config: TrainConfig) -> str:
    """", pretrained (rotations of mnist5k)" for a model that starts from a pretrained backbone."""
    pretrained = config.pretrained
    return f", pretrained ({pretrained.task}s of {pretrained.digits})" if pretrained else ""


def chapter_plan(scale: str | None = None) -> ChapterPlan:
    """The chapter's settings at ``scale``: "book" (2 CPU cores) or "full" (a GPU: MNIST
    mosaics, a pretrained ResNet, the supplement's full absolute grid).

    Book scale searches two relative settings per scheme on the mosaics and one absolute one
    (three and two on yeast, where runs cost little). The CNN is narrow (widths 16 and 32,
    learning rate chosen on one AN run's validation mAP) and trains 7 epochs, so that five
    seeds and the control cost less training time than the earlier two seeds of a wider CNN
    trained for 8 epochs.
    The relative grid is scaled to our data: the paper's 0.1-0.5 % of B x C per epoch suits
    COCO, where unannotated positives are about 2.4 % of the entries; in our data they are a far
    larger share (:meth:`ChapterPlan.table`), so we search 0.5-2 %.
    """
    scale = scale or current_scale()
    quiet = dict(progress=False, eval_splits=("val",))
    if scale == "book":
        digits = dict(source="sklearn", n_train=1500, n_val=500, n_test=1000, seed=0)
        cnn = TrainConfig(model="small_cnn", model_kwargs={"widths": (16, 32)}, pretrained=DISJOINT_PRETRAINING,
                          epochs=7, lr=6e-3, batch_size=64, **quiet)
        mlp = TrainConfig(model="mlp", model_kwargs={"hidden": (256,)}, epochs=25, lr=1e-3, batch_size=64, **quiet)
        relative, absolute = (0.005, 0.01, 0.02), ((1.0, 0.1), (1.5, 0.15))
        digit_relative, digit_absolute = (0.005, 0.01), ((1.5, 0.15),)
        linear_epochs, memorisation_epochs = 3, 60
        scene_relative, scene_absolute = (0.001, 0.003, 0.005), ((1.0, 0.1), (2.0, 0.1))
    elif scale == "full":
        digits = dict(source="mnist5k", n_train=10000, n_val=2000, n_test=4000, seed=0)
        cnn = TrainConfig(model="resnet", model_kwargs={"widths": (32, 64, 128), "blocks": (1, 1, 1)},
                          pretrained=PretrainConfig(digits="sklearn", image_size=28, epochs=20, task="rotation"),
                          epochs=10, lr=1e-3, batch_size=64, **quiet)
        mlp = TrainConfig(model="mlp", model_kwargs={"hidden": (256,)}, epochs=40, lr=1e-3, batch_size=64, **quiet)
        relative = (0.0025, 0.005, 0.01, 0.02, 0.04)
        absolute = tuple((r0, d) for r0 in PAPER_SEARCH["R0"] for d in PAPER_SEARCH["delta_abs"])
        digit_relative, digit_absolute = relative, absolute
        linear_epochs, memorisation_epochs = 25, 120
        scene_relative, scene_absolute = tuple(d / 100 for d in PAPER_SEARCH["delta_rel (percent of B*C per epoch)"]), absolute
    else:
        raise ValueError(f"scale must be 'book' or 'full', got {scale!r}")
    datasets = {
        "digits, single positive": DatasetPlan("mosaics", digits, "single positive", cnn, digit_relative,
                                               digit_absolute, linear_init=True),
        "digits, partial": DatasetPlan("mosaics", digits, "partial", cnn, digit_relative, digit_absolute,
                                       partial_q=CLASS_DEPENDENT_HIDING),
        "yeast, single positive": DatasetPlan("yeast", {"seed": 0}, "single positive", mlp, relative, absolute,
                                              memorisation_epochs=memorisation_epochs),
        SCENES_SINGLE_POSITIVE: DatasetPlan("scene features", scene_options(scale=scale), "single positive",
                                            linear_probe(scale), scene_relative, scene_absolute),
    }
    return ChapterPlan(scale, datasets, linear_init_epochs=linear_epochs)


@functools.lru_cache(maxsize=8)
def _build(builder: str, kwargs: tuple, regime: str, partial_q: float | tuple[float, ...]) -> MultiLabelData:
    options = dict(kwargs)
    full = build_dataset(builder, **options)
    if regime == "single positive":
        return apply_single_positive(full, seed=0)
    if regime == "partial":
        partial = apply_partial(full, q=partial_q, seed=0)
        if isinstance(partial_q, tuple):  # class-dependent: score the annotation groups
            partial.meta["annotation_groups"] = annotation_groups(partial.train)
        return partial
    raise ValueError(f"unknown regime {regime!r}")


def chapter_data(name: str, scale: str | None = None) -> MultiLabelData:
    """The data set ``name`` (a key of ``chapter_plan(scale).datasets``), built once per process."""
    plan = chapter_plan(scale).datasets[name]
    return _build(plan.builder, tuple(sorted(plan.builder_kwargs.items())), plan.regime, plan.partial_q)


# --------------------------------------------------------------------------- the runs
def _config(base: TrainConfig, method: str, setting) -> TrainConfig:
    scheme, schedule = METHODS[method]
    if scheme is None:
        return base.replace(loss="assume_negative_loss", loss_kwargs={})
    schedule_field = ({"large_loss_delta_rel": setting} if schedule == "relative"
                      else {"large_loss_threshold": tuple(setting)})
    return base.replace(loss="large_loss", loss_kwargs={"scheme": scheme}, **schedule_field)


def _setting_text(method: str, setting) -> str:
    schedule = METHODS[method][1]
    if schedule is None:
        return "–"
    if schedule == "relative":
        return f"Δrel = {100 * setting:g} %"
    return f"R0 = {setting[0]:g}, Δabs = {setting[1]:g}"


def _settings(plan: DatasetPlan, method: str) -> dict:
    """The searched settings of ``method``: text -> value."""
    schedule = METHODS[method][1]
    values = [None] if schedule is None else plan.delta_rel_grid if schedule == "relative" else plan.absolute_grid
    return {_setting_text(method, value): value for value in values}


def grid_runs(dataset: str, scale: str | None = None) -> list[Run]:
    """Selection: every method at every setting of the reduced grid, first headline seed."""
    plan = chapter_plan(scale).datasets[dataset]
    return [Run(dataset, "grid", method, HEADLINE_SEEDS[0], _config(plan.base, method, value), text)
            for method in METHODS for text, value in _settings(plan, method).items()]


def select_settings(grid: pd.DataFrame) -> dict[str, str]:
    """Per method, the setting (in words) of its best validation mAP in the grid of one data set."""
    best = grid.sort_values("val_mAP_class", ascending=False, kind="stable").drop_duplicates("method")
    return dict(zip(best["method"], best["setting"]))


def best_relative(grid: pd.DataFrame) -> str:
    """"LL-relative": the relative scheme with the best validation mAP in the grid of one data set."""
    relative = grid[grid["method"].isin(RELATIVE_METHODS)]
    return str(relative.sort_values("val_mAP_class", ascending=False, kind="stable")["method"].iloc[0])


def planned_runs(dataset: str, selected: dict[str, str], relative: str, scale: str | None = None) -> list[Run]:
    """The runs after the selection: each method at its ``selected`` setting, end-to-end, on the
    headline seeds (AN, LL-relative = ``relative``, the absolute variants) or the sweep seeds
    (the other relative schemes); LinearInit for AN and LL-relative where the plan asks for it;
    and the A/A control of AN."""
    chapter = chapter_plan(scale)
    plan = chapter.datasets[dataset]
    headline = {"AN", relative, *ABSOLUTE_METHODS}
    runs, linear = [], []
    for method in METHODS:
        config = _config(plan.base, method, _settings(plan, method)[selected[method]])
        seeds = HEADLINE_SEEDS if method in headline else SWEEP_SEEDS
        runs += [Run(dataset, "comparison", method, seed, config, selected[method]) for seed in seeds]
        if plan.linear_init and method in ("AN", relative):
            variant = config.replace(scheme="linear_init", linear_init_epochs=chapter.linear_init_epochs)
            linear += [Run(dataset, "LinearInit", method, seed, variant, selected[method]) for seed in SWEEP_SEEDS]
    return runs + linear + memorisation_runs(dataset, selected, scale) + control_runs(
        runs, dataset, CONTROL_METHOD, seeds=CONTROL_SEEDS)


def memorisation_runs(dataset: str, selected: dict[str, str], scale: str | None = None) -> list[Run]:
    """The memorisation experiment (experiment ``"memorisation"``), where the plan asks for it: AN
    and the three relative schemes at their selected settings, trained ``memorisation_epochs``
    epochs at a constant learning rate (no decay to hide a decline) on the headline seeds."""
    plan = chapter_plan(scale).datasets[dataset]
    if plan.memorisation_epochs is None:
        return []
    base = plan.base.replace(epochs=plan.memorisation_epochs, lr_schedule="constant")
    return [Run(dataset, "memorisation", method, seed, _config(base, method, _settings(plan, method)[selected[method]]),
                selected[method]) for method in MEMORISATION_METHODS for seed in HEADLINE_SEEDS]


def hidden_positive_share(split: LabelledSplit) -> float:
    """Share of the unknown training entries that are truly positive: the precision a
    correction would have if it picked unknown entries at random."""
    unknown = split.targets == -1
    return float((split.true_targets[unknown] == 1).float().mean())


def early_epoch(epochs: int) -> int:
    """The early epoch of the memorisation claims: a third of the run, fixed before looking (the
    peak epoch itself would favour a decline by selection)."""
    return max(1, epochs // 3)


def _threshold_zero_epoch(config: TrainConfig) -> float:
    """The first epoch at which an absolute threshold R0 - t delta_abs is <= 0, if that happens
    within the run (NaN otherwise)."""
    if config.large_loss_threshold is None:
        return math.nan
    r0, delta = config.large_loss_threshold
    epoch = math.ceil(r0 / delta - 1e-9)
    return float(epoch) if epoch <= config.epochs else math.nan


def score_run(result: RunResult, data: MultiLabelData) -> dict:
    """What the chapter reads from a run: :func:`~mlteach.reproduce.evaluation.test_scores`
    (test mAP in % with its test resamples), ``classes``; from the training records the
    entries the Large Loss scheme modified per epoch and the share of them that were truly
    positive (``precision``, %, over the whole run), beside ``chance`` (%), the
    hidden-positive share of the unknown entries; ``threshold_zero_epoch``; the memorisation
    signature: mean predicted probability of the annotated and of the hidden positives of the
    training set and of the test positives; and on mosaics the localisation score of the
    class activation maps (%, with its test resamples) and the uniform map's score; the
    validation mAP (%) at :func:`early_epoch` and at the last epoch (``val_mAP_early``,
    ``val_mAP_last``)."""
    scores = test_scores(result, data, groups=data.meta.get("annotation_groups"))
    validation = result.records.loc[result.records["split"] == "val", "mAP_class"].to_numpy(dtype=float)
    scores.update({"val_mAP_early": 100 * validation[early_epoch(len(validation)) - 1],
                   "val_mAP_last": 100 * validation[-1]})
    train = result.records[result.records["split"] == "train"]
    modified = train["labels_modified"].astype(float).fillna(0.0)
    correct = (modified * train["modified_precision"].astype(float)).fillna(0.0)
    model = result.load_model()
    train_probability = torch.sigmoid(predict(model, data.train.inputs))
    test_probability = torch.sigmoid(evaluation_logits(result, data)["test"])
    targets, truth = data.train.targets, data.train.true_targets
    scores.update({
        "classes": len(data.class_names), "threshold_zero_epoch": _threshold_zero_epoch(result.config),
        "modified_per_epoch": float(modified.mean()),
        "precision": 100 * float(correct.sum() / modified.sum()) if modified.sum() > 0 else math.nan,
        "chance": 100 * hidden_positive_share(data.train),
        "annotated_probability": float(train_probability[targets == 1].mean()),
        "hidden_probability": float(train_probability[(targets == -1) & (truth == 1)].mean()),
        "test_probability": float(test_probability[data.test.true_targets == 1].mean())})
    if "cell_labels" in data.test.extra:
        scores.update(_localisation(model, data))
    return scores


def _localisation(model: torch.nn.Module, data: MultiLabelData) -> dict:
    test = data.test
    index = cell_index_map(data.meta)
    with torch.no_grad():
        cams = torch.cat([class_activation_maps(model, chunk) for chunk in test.inputs.split(500)])
    shares = localisation_scores(cams, test.extra["cell_labels"], test.true_targets, index).numpy()
    scored = ~np.isnan(shares)
    per_image_sum, per_image_count = np.nansum(shares, axis=1), scored.sum(axis=1)
    resamples = image_resamples(len(test))
    return {"localisation": 100 * float(per_image_sum.sum() / per_image_count.sum()),
            "localisation" + BOOT: 100 * mean_replicates(per_image_sum, resamples)
            / mean_replicates(per_image_count, resamples),
            "localisation_chance": 100 * chance_localisation(test.extra["cell_labels"], test.true_targets,
                                                             num_cells=int(index.max()) + 1)}


@functools.lru_cache(maxsize=2)
def _run_all(scale: str) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    chapter = chapter_plan(scale)
    tables, results = [], {}
    for name, plan in chapter.datasets.items():
        data = {name: chapter_data(name, scale)}
        if plan.base.pretrained is not None:  # once here, not once per worker process
            pretrained_backbone(plan.base.pretrained, plan.base.model, plan.base.model_kwargs)
        grid, trained = run_table(grid_runs(name, scale), data, workers=plan.workers, description="selection")
        runs = planned_runs(name, select_settings(grid), best_relative(grid), scale)
        table, scored = run_table(runs, data, score_run, workers=plan.workers, description="selected settings")
        tables += [grid, table]
        results.update({r.key: r for r in trained + scored})
    return pd.concat(tables, ignore_index=True), results


def run_all(scale: str | None = None) -> tuple[pd.DataFrame, dict[str, RunResult]]:
    """Train (or load from the run cache) every run of the chapter: the tidy run table (one row
    per run: :data:`~mlteach.reproduce.experiment.RUN_COLUMNS`, then :func:`score_run`'s
    columns, left empty for the selection runs, which are read by validation mAP only) and the
    runs' results by ``run_key``. Computed once per process and scale."""
    return _run_all(scale or current_scale())


# --------------------------------------------------------------------------- tables
def _of(table: pd.DataFrame, experiment: str, dataset: str | None = None) -> pd.DataFrame:
    chosen = table[table["experiment"] == experiment]
    return chosen if dataset is None else chosen[chosen["dataset"] == dataset]


def _datasets(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["dataset"]))


def _relative_of(table: pd.DataFrame, dataset: str) -> str:
    return best_relative(_of(table, "grid", dataset))


def _mean_std(values) -> str:
    return Measurements.of(list(values)).summary(digits=1)


def selection_table(table: pd.DataFrame) -> pd.DataFrame:
    """Validation mAP@class in % of every selection run, per method and setting (rows) and data
    set (columns); a dash where a setting was not searched on a data set."""
    grid = _of(table, "grid").assign(value=lambda t: 100 * t["val_mAP_class"])
    pivot = grid.pivot_table(index=["method", "setting"], columns="dataset", values="value", sort=False)
    return pivot[_datasets(grid)].map(lambda v: "–" if pd.isna(v) else f"{v:.1f}").rename_axis([None, None])\
        .rename_axis(None, axis=1)


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """Test mAP@class in % (mean ± std over seeds), end-to-end, per method and data set, with the
    selected setting (marked "LL-relative" for the chosen relative scheme) and the seeds."""
    comparison = _of(table, "comparison")
    columns = {}
    for name in _datasets(comparison):
        groups = comparison[comparison["dataset"] == name].groupby("method", sort=False)
        relative = _relative_of(table, name)
        columns[(name, "test mAP (%)")] = groups["mAP_class"].agg(_mean_std)
        columns[(name, "setting")] = groups["setting"].first().where(lambda s: s.index != relative,
                                                                    lambda s: s + " (LL-relative)")
        columns[(name, "seeds")] = groups["seed"].count()
    return pd.DataFrame(columns).rename_axis(None).rename_axis([None, None], axis=1)


def paper_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The supplement's Tables 1 and 2 (rows AN, LL-relative, absolute variants) beside our mean
    test mAP in %; our "LL-relative" is the relative scheme chosen on validation, as the paper's."""
    columns = {f"Table 1: {c}": PAPER_TABLE1[c] for c in PAPER_TABLE1.columns}
    columns["Table 2: OpenImages"] = PAPER_TABLE2["All Gs"]
    comparison = _of(table, "comparison")
    for name in _datasets(comparison):
        means = comparison[comparison["dataset"] == name].groupby("method")["mAP_class"].mean()
        rows = ["AN", _relative_of(table, name), *ABSOLUTE_METHODS]
        columns[f"ours: {name}"] = pd.Series(means[rows].to_numpy(), index=PAPER_TABLE1.index)
    return pd.DataFrame(columns).map(lambda v: f"{v:.1f}").rename_axis(None)


def group_table(table: pd.DataFrame) -> pd.DataFrame:
    """Table 2 by annotation group: the supplement's mAP on OpenImages (G1 least annotated ...
    G5 most, and all groups) beside ours on the class-dependent partial mosaics (test mAP in %,
    mean over the headline seeds), for AN, LL-relative and the absolute variants."""
    comparison = _of(table, "comparison")
    scored = comparison[comparison.get(ANNOTATION_GROUPS[0], pd.Series(index=comparison.index)).notna()]
    if scored.empty:
        raise ValueError("group_table: no data set of the table has annotation groups (a class-dependent regime)")
    dataset = scored["dataset"].iloc[0]
    part = comparison[comparison["dataset"] == dataset]
    rows = ["AN", _relative_of(table, dataset), *ABSOLUTE_METHODS]
    means = part.groupby("method")[[*ANNOTATION_GROUPS, "mAP_class"]].mean().loc[rows]
    ours = means.rename(columns={"mAP_class": "All Gs"}).set_axis(PAPER_TABLE2.index)
    return pd.concat({"paper (OpenImages)": PAPER_TABLE2, f"ours ({dataset})": ours}, axis=1).round(1)


def linear_init_table(table: pd.DataFrame) -> pd.DataFrame:
    """End-to-end against LinearInit: test mAP in % (mean ± std) of the methods trained both
    ways, on the seeds of the LinearInit runs."""
    linear = _of(table, "LinearInit")
    both = table[table["experiment"].isin(["comparison", "LinearInit"]) & table["seed"].isin(linear["seed"])
                 & table["dataset"].isin(linear["dataset"]) & table["method"].isin(linear["method"])]
    shown = both.groupby(["dataset", "method", "experiment"], sort=False)["mAP_class"].agg(_mean_std).unstack()
    return shown.rename(columns={"comparison": "end-to-end"}).rename_axis([None, None]).rename_axis(None, axis=1)


#: The memorisation signature: mean predicted probability of the annotated and of the hidden
#: positives of the training set, and of the test positives. A model that learnt the classes
#: gives all three about the same probability; one that fits its assumed negatives pushes the
#: hidden positives down.
MEMORISATION = {"annotated_probability": "annotated positives (train)",
                "hidden_probability": "hidden positives (train)", "test_probability": "positives (test)"}
#: What the schemes modified: entries per epoch, the share truly positive, a random choice's
#: share, and the epoch at which an absolute threshold reaches 0 (every unknown entry selected).
PRECISION = {"modified_per_epoch": "modified per epoch", "precision": "truly positive (%)",
             "chance": "random choice (%)", "threshold_zero_epoch": "threshold 0 at epoch"}
#: The localisation score of the class activation maps and the uniform map's.
LOCALISATION = {"localisation": "CAM mass in the right cells (%)", "localisation_chance": "uniform map (%)"}


def summary_table(table: pd.DataFrame, columns: dict[str, str], methods: tuple[str, ...] | None = None,
                  dataset: str | None = None, digits: int = 1) -> pd.DataFrame:
    """Mean ± std over seeds of the run-table ``columns`` (name -> shown name) per data set and
    method of the comparison (only ``methods`` and ``dataset`` if given); a value constant over
    seeds is shown once, a statistic a method does not have (AN's precision) as a dash."""
    part = _of(table, "comparison", dataset)
    part = part if methods is None else part[part["method"].isin(methods)]
    def summary(values: pd.Series) -> str:
        if values.isna().all():
            return "–"
        if values.nunique() == 1:
            return f"{values.iloc[0]:.{digits}f}"
        return Measurements.of(list(values)).summary(digits)

    shown = part.groupby(["dataset", "method"], sort=False)[list(columns)].agg(summary).rename(columns=columns)
    shown["seeds"] = part.groupby(["dataset", "method"], sort=False)["seed"].count()
    return shown.rename_axis([None, None])


def correction_curves(table: pd.DataFrame, results: dict[str, RunResult]) -> pd.DataFrame:
    """Per data set, Large Loss method (end-to-end, every seed) and epoch: how many unknown
    entries the scheme modified and the share of them that are truly positive, with ``chance``
    (the hidden-positive share of the unknown entries, as a fraction)."""
    comparison = _of(table, "comparison")
    frames = []
    for row in comparison[comparison["method"] != "AN"].itertuples():
        records = results[row.run_key].records.query("split == 'train'")
        frames.append(records[["epoch", "labels_modified", "modified_precision"]].assign(
            dataset=row.dataset, method=row.method, seed=row.seed, chance=row.chance / 100))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- class activation maps
def cell_index_map(meta: dict) -> torch.Tensor:
    """``[H, W]`` long: the row-major cell index of every pixel of a mosaic."""
    rows, cols = meta["grid"]
    cell_h, cell_w = meta["cell_size"]
    row_index = torch.arange(rows).repeat_interleave(cell_h)
    col_index = torch.arange(cols).repeat_interleave(cell_w)
    return row_index[:, None] * cols + col_index[None, :]


def localisation_scores(cams: torch.Tensor, cell_labels: torch.Tensor, true_targets: torch.Tensor,
                        cell_index: torch.Tensor) -> torch.Tensor:
    """For every (image, class) pair, the share of the class's positive CAM mass (``relu(cam)``,
    at image resolution) that lies inside the cells holding that class; NaN for a class the
    image does not contain or whose map has no positive mass.

    ``cams`` ``[N, C, H, W]``; ``cell_labels`` ``[N, cells]`` (class per cell, -1 blank);
    ``true_targets`` ``[N, C]``; ``cell_index`` ``[H, W]`` (cell of each pixel). Returns ``[N, C]``.

    >>> cams = torch.zeros(1, 2, 2, 2); cams[0, 0, 0, 0] = 3.0; cams[0, 0, 1, 1] = 1.0
    >>> index = torch.tensor([[0, 1], [2, 3]])
    >>> localisation_scores(cams, torch.tensor([[0, -1, -1, 1]]), torch.tensor([[1.0, 1.0]]), index)
    tensor([[0.7500,    nan]])
    """
    mass = cams.clamp_min(0)
    pixel_class = cell_labels[:, cell_index]  # [N, H, W]: the class of the cell under each pixel
    classes = torch.arange(cams.shape[1])[None, :, None, None]
    inside = (mass * (pixel_class[:, None] == classes)).sum(dim=(2, 3))
    total = mass.sum(dim=(2, 3))
    keep = (true_targets == 1) & (total > 0)
    return torch.where(keep, inside / total.clamp_min(1e-12), torch.nan)


def chance_localisation(cell_labels: torch.Tensor, true_targets: torch.Tensor, num_cells: int) -> float:
    """The score of a uniform map: per (image, ground-truth class), the share of cells holding the class."""
    counts = torch.stack([(cell_labels == c).sum(dim=1) for c in range(true_targets.shape[1])], dim=1)
    return float((counts[true_targets == 1].float() / num_cells).mean())


def plot_cams(table: pd.DataFrame, results: dict[str, RunResult], data: MultiLabelData, examples: int = 3,
              classes_per_example: int = 2, dataset: str = "digits, single positive"):
    """Test mosaics with the CAMs of their ground-truth classes under AN and LL-Ct (first seed,
    end-to-end): one row per mosaic; columns: the image, then for each shown class its AN and
    LL-Ct maps."""
    import matplotlib.pyplot as plt

    part = _of(table, "comparison", dataset).sort_values("seed")
    models = {m: results[part.loc[part["method"] == m, "run_key"].iloc[0]].load_model() for m in ("AN", CAM_METHOD)}
    test = data.test
    chosen = torch.nonzero((test.true_targets == 1).sum(dim=1) >= classes_per_example).flatten()[:examples]
    columns = 1 + 2 * classes_per_example
    figure, axes = plt.subplots(len(chosen), columns, figsize=(1.7 * columns, 1.8 * len(chosen)), squeeze=False)
    for row, sample in enumerate(chosen.tolist()):
        image = test.inputs[sample: sample + 1]
        axes[row, 0].imshow(image[0, 0].numpy(), cmap="gray")
        axes[row, 0].set_title("mosaic", fontsize=9)
        present = torch.nonzero(test.true_targets[sample] == 1).flatten()[:classes_per_example].tolist()
        for k, label in enumerate(present):
            for j, (method, model) in enumerate(models.items()):
                with torch.no_grad():
                    cam = class_activation_maps(model, image)[0, label].clamp_min(0)
                ax = axes[row, 1 + 2 * k + j]
                ax.imshow(image[0, 0].numpy(), cmap="gray")
                ax.imshow(cam.numpy(), cmap="inferno", alpha=0.6)
                ax.set_title(f"{method}: '{data.class_names[label]}'", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return figure


def plot_correction_precision(curves: pd.DataFrame):
    """Share of the modified entries that are truly positive per epoch (mean over seeds), one
    panel per data set (shared y axis), one line per method, the hidden-positive share dashed."""
    import seaborn as sns

    grid = sns.relplot(data=curves, x="epoch", y="modified_precision", hue="method", col="dataset",
                       kind="line", marker="o", errorbar=None, height=3.0, aspect=1.1,
                       facet_kws={"sharex": False, "sharey": True})
    for ax, (name, part) in zip(grid.axes.flat, curves.groupby("dataset", sort=False)):
        ax.axhline(part["chance"].iloc[0], color="0.5", linestyle="--", linewidth=1)
        ax.set_title(name)
    grid.set_axis_labels("epoch", "share truly positive")
    return grid


# --------------------------------------------------------------------------- claims
LINKS = {
    "comparison": f"{PAGE}#tables-1-and-2-an-against-large-loss",
    "equivalence": f"{PAGE}#the-absolute-threshold-against-the-relative-one",
    "linear": f"{PAGE}#linearinit-against-end-to-end",
    "precision": f"{PAGE}#how-many-corrections-are-right",
    "cam": f"{PAGE}#class-activation-maps-supplement-fig-1",
    "control": f"{PAGE}#ch4-aa-control",
    "memorisation": f"{PAGE}#the-memorisation-phase",
}


def _context(table: pd.DataFrame, dataset: str) -> dict:
    classes = int(table.loc[table["dataset"] == dataset, "classes"].dropna().iloc[0])
    return dict(chapter=CHAPTER, dataset=dataset, classes=classes)


def _paper_table(dataset: str) -> tuple[pd.DataFrame, str]:
    """The supplement's table that ``dataset`` stands beside, and its name: Table 2
    (OpenImages, all groups) for partial labels, else Table 1."""
    if "partial" in dataset:
        return PAPER_TABLE2[["All Gs"]].rename(columns={"All Gs": "OpenImages"}), "Table 2"
    return PAPER_TABLE1, "Table 1"


def _paper_pair(paper: pd.DataFrame, method: str, baseline: str) -> str:
    """The paper's ``method`` against ``baseline`` per column, e.g. "VOC 89.20 vs 85.10; ..."."""
    return "; ".join(f"{c} {paper_number(paper.loc[method, c])} vs {paper_number(paper.loc[baseline, c])}"
                     for c in paper.columns)


def _memorisation_note(table: pd.DataFrame, dataset: str) -> str:
    """Why Large Loss may not pay off on ``dataset``, from AN's memorisation signature."""
    an = _of(table, "comparison", dataset)
    an = an[(an["method"] == "AN") & an["seed"].isin(HEADLINE_SEEDS)]
    annotated, hidden = an["annotated_probability"].mean(), an["hidden_probability"].mean()
    if hidden >= 0.75 * annotated:
        return (f"AN has not memorised its false negatives: it gives the hidden positives of its training images "
                f"a mean probability of {hidden:.2f}, close to the annotated ones' {annotated:.2f}, so there is "
                "little for Large Loss to undo and every true negative it modifies costs")
    return (f"AN memorises (hidden positives {hidden:.2f} against annotated {annotated:.2f}), but the modified "
            "entries are not precise enough to pay for the true negatives they remove")


def _threshold_note(table: pd.DataFrame, dataset: str, method: str) -> str:
    runs = _of(table, "comparison", dataset)
    row = runs[runs["method"] == method].iloc[0]
    if pd.isna(row["threshold_zero_epoch"]):
        return ""
    return (f"the selected threshold ({row['setting']}) reaches 0 at epoch {int(row['threshold_zero_epoch'])}, "
            "after which every unknown entry is rejected or corrected")


def comparison_claims(table: pd.DataFrame) -> list[Claim]:
    """Supplement Tables 1 and 2: LL-relative and each absolute variant beat naive AN (test
    mAP@class in %, headline seeds, paired)."""
    output = []
    comparison = _of(table, "comparison")
    for dataset in _datasets(comparison):
        paper, number = _paper_table(dataset)
        relative = _relative_of(table, dataset)
        an = measurements(comparison, "mAP_class", dataset=dataset, method="AN")
        note = _memorisation_note(table, dataset)
        for method, row in [(relative, "LL-relative"), *[(m, m) for m in ABSOLUTE_METHODS]]:
            ours = measurements(comparison, "mAP_class", dataset=dataset, method=method)
            name = f"LL-relative ({relative})" if row == "LL-relative" else method
            output.append(compare(
                ours, an, claim=f"{name} beats naive AN", source=f"LL suppl., {number}",
                paper=_paper_pair(paper, row, "AN"),
                if_not=_threshold_note(table, dataset, method) or note, link=LINKS["comparison"],
                **_context(table, dataset)))
    return output


def equivalence_claims(table: pd.DataFrame, margin: float = EQUIVALENCE_MARGIN) -> list[Claim]:
    """Supplement Sec. B: each absolute variant performs like LL-relative, i.e. the 95 %
    interval of its difference lies inside +-``margin`` mAP points (headline seeds)."""
    output = []
    comparison = _of(table, "comparison")
    for dataset in _datasets(comparison):
        relative = _relative_of(table, dataset)
        paper, number = _paper_table(dataset)
        reference = measurements(comparison, "mAP_class", dataset=dataset, method=relative)
        rows = comparison[comparison["dataset"] == dataset].groupby("method")["modified_per_epoch"].mean()
        for method in ABSOLUTE_METHODS:
            gap = (paper.loc["LL-relative"] - paper.loc[method]).round(1)
            text = "LL-relative − variant: " + ", ".join(f"{c} {paper_number(v)}" for c, v in gap.items())
            reason = _threshold_note(table, dataset, method) or (
                f"the two schedules modify different numbers of entries: {rows[method]:.0f} per epoch against "
                f"{rows[relative]:.0f} for {relative}")
            output.append(compare(
                measurements(comparison, "mAP_class", dataset=dataset, method=method), reference, kind="equivalent",
                margin=margin, claim=f"{method} performs like LL-relative ({relative}) within ±{margin:g} mAP point",
                source=f"LL suppl., Sec. B and {number}",
                paper=text, if_not=reason, link=LINKS["equivalence"], **_context(table, dataset)))
    return output


def linear_init_claims(table: pd.DataFrame) -> list[Claim]:
    """Main paper, Table 1: with LinearInit too, LL-relative beats AN (sweep seeds)."""
    output = []
    linear = _of(table, "LinearInit")
    for dataset in _datasets(linear):
        relative = _relative_of(table, dataset)
        output.append(compare(
            measurements(linear, "mAP_class", dataset=dataset, method=relative),
            measurements(linear, "mAP_class", dataset=dataset, method="AN"),
            claim=f"with LinearInit too, LL-relative ({relative}) beats AN", source="LL paper, Table 1 (main text)",
            paper="– (main text's Table 1; only the supplement, which gives the protocol, is at hand)",
            if_not="as end-to-end: " + _memorisation_note(table, dataset), link=LINKS["linear"],
            **_context(table, dataset)))
    return output


def precision_claims(table: pd.DataFrame) -> list[Claim]:
    """The premise of the method, per relative scheme and data set: the entries the scheme
    modifies (over the whole run) are truly positive more often than a random unknown entry
    (percentage points above the hidden-positive share, every seed of the scheme)."""
    output = []
    comparison = _of(table, "comparison")
    for dataset in _datasets(comparison):
        for method in RELATIVE_METHODS:
            precision = measurements(comparison, "precision", dataset=dataset, method=method)
            chance = float(comparison.loc[comparison["dataset"] == dataset, "chance"].iloc[0])
            random_choice = Measurements.of([chance] * len(precision.values), precision.seeds)
            runs = comparison[(comparison["dataset"] == dataset) & (comparison["method"] == method)]
            hidden, annotated = runs["hidden_probability"].mean(), runs["annotated_probability"].mean()
            reason = (f"{method}'s models give even the positives of the training set a mean probability of only "
                      f"{hidden:.2f} (hidden) and {annotated:.2f} (annotated), so the loss of a hidden positive "
                      "stands out little from a negative's")
            output.append(compare(
                precision, random_choice, kind="mechanism",
                claim=f"{method}: the unknown entries it modifies (largest losses) are hidden positives more "
                      "often than a random unknown entry", source="LL paper, Sec. 3 (the premise of the method)",
                paper="– (argued in the main text; no precision is reported)",
                ours=f"{precision.summary(1)} % vs {chance:.1f} % at random",
                if_not=reason, link=LINKS["precision"], **_context(table, dataset)))
    return output


def cam_claims(table: pd.DataFrame, dataset: str = "digits, single positive") -> list[Claim]:
    """Supplement Fig. 1: LL-Ct's class activation maps localise the objects better than AN's
    (share of positive CAM mass inside the right cells, %, on LL-Ct's seeds)."""
    comparison = _of(table, "comparison", dataset)
    ll = measurements(comparison, "localisation", method=CAM_METHOD)
    an_rows = comparison[comparison["seed"].isin(ll.seeds)]
    an = measurements(an_rows, "localisation", method="AN")
    uniform = float(comparison["localisation_chance"].iloc[0])
    return [compare(
        ll, an, claim=f"{CAM_METHOD}'s class activation maps localise the objects better than AN's",
        source="LL suppl., Sec. C and Fig. 1", paper="– (qualitative: COCO examples)",
        ours=f"{ll.summary(1)} % vs {an.summary(1)} % of the CAM mass in the right cells (uniform map {uniform:.1f} %)",
        if_not="both models already localise digits well: a mosaic cell is a sharper cue than a COCO object, and "
               + _memorisation_note(table, dataset), link=LINKS["cam"], **_context(table, dataset))]


def memorisation_curves(table: pd.DataFrame, results: dict[str, RunResult]) -> pd.DataFrame:
    """Validation mAP (%) after every epoch of the memorisation runs: one row per run and epoch
    (dataset, method, seed, epoch, val mAP)."""
    rows = []
    for run in _of(table, "memorisation").itertuples():
        validation = results[run.run_key].records.query("split == 'val'")
        rows += [{"dataset": run.dataset, "method": run.method, "seed": run.seed, "epoch": int(epoch),
                  "val mAP": 100 * value} for epoch, value in zip(validation["epoch"], validation["mAP_class"])]
    return pd.DataFrame(rows)


def memorisation_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per method (mean over seeds): the epoch of the validation peak, the peak, the mAP at the
    last epoch and the drop from the peak to the last epoch, in mAP points."""
    per_run = curves.groupby(["method", "seed"], sort=False)["val mAP"]
    summary = pd.DataFrame({"peak epoch": curves.loc[per_run.idxmax(), "epoch"].to_numpy(),
                            "peak": per_run.max().to_numpy(), "last": per_run.last().to_numpy()},
                           index=per_run.max().index)
    summary["drop after the peak"] = summary["peak"] - summary["last"]
    return summary.groupby("method", sort=False).mean().round(2)


def plot_memorisation(curves: pd.DataFrame):
    """Mean validation mAP over seeds against the epoch, one line per method (the band: the
    seeds' minimum to maximum)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for method, part in curves.groupby("method", sort=False):
        by_epoch = part.groupby("epoch")["val mAP"]
        ax.plot(by_epoch.mean().index, by_epoch.mean(), label=method, lw=1.8 if method == "AN" else 1.2)
        ax.fill_between(by_epoch.mean().index, by_epoch.min(), by_epoch.max(), alpha=0.15)
    ax.set(xlabel="epoch (constant learning rate)", ylabel="validation mAP@class (%)")
    ax.legend(frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def memorisation_claims(table: pd.DataFrame, scale: str | None = None) -> list[Claim]:
    """The main paper's motivation (Kim et al., CVPR 2022, Sec. 3): under AN the model first
    learns the clean labels, then memorises its false negatives and loses mAP; rejecting or
    correcting the large losses keeps it. Measured on the memorisation runs as validation mAP at
    :func:`early_epoch` against the last epoch (AN), and as AN's decline against each relative
    scheme's (paired by seed)."""
    output = []
    runs = _of(table, "memorisation")
    for dataset in _datasets(runs):
        def side(method: str, column: str) -> Measurements:
            return measurements(runs, column, dataset=dataset, method=method)

        epochs = chapter_plan(scale).datasets[dataset].memorisation_epochs
        early, last = side("AN", "val_mAP_early"), side("AN", "val_mAP_last")
        output.append(compare(
            early, last, kind="mechanism", link=LINKS["memorisation"],
            claim=f"Under AN the validation mAP declines after its early peak (epoch {early_epoch(epochs)} "
                  f"> epoch {epochs})", source="LL main paper, Sec. 3 (memorisation)", paper="a decline (figure)",
            if_not="the model does not memorise its false negatives within the run", **_context(table, dataset)))
        decline = {m: Measurements(side(m, "val_mAP_early").values - side(m, "val_mAP_last").values, None,
                                   early.seeds) for m in MEMORISATION_METHODS}
        for method in RELATIVE_METHODS:
            output.append(compare(
                decline["AN"], decline[method], link=LINKS["memorisation"],
                claim=f"{method} keeps what AN loses: AN's decline after epoch {early_epoch(epochs)} exceeds {method}'s",
                source="LL main paper, Sec. 3 and 4", paper="AN declines, Large Loss does not (figure)",
                if_not=f"{method} modifies too few entries to stop the memorisation", **_context(table, dataset)))
    return output


def control_claims(table: pd.DataFrame) -> list[Claim]:
    """The A/A control per data set: AN on the headline seeds against AN on the control seeds
    (paired by position); every one must come out inconclusive."""
    output = []
    for dataset in _datasets(_of(table, "control")):
        a = measurements(_of(table, "comparison"), "mAP_class", dataset=dataset, method=CONTROL_METHOD)
        control = measurements(_of(table, "control"), "mAP_class", dataset=dataset, method=CONTROL_METHOD)
        b = Measurements(control.values, control.replicates, a.seeds)  # paired by position
        output.append(compare(
            a, b, kind="control", claim=f"A/A control: {CONTROL_METHOD} (seeds {a.seeds[0]}-{a.seeds[-1]}) vs "
            f"{CONTROL_METHOD} (seeds {control.seeds[0]}-{control.seeds[-1]})",
            source="negative control (not a paper claim)", paper="–", link=LINKS["control"],
            **_context(table, dataset)))
    return output


def claims(scale: str | None = None) -> list[Claim]:
    """Every claim of the chapter with its verdict (trains what is not cached)."""
    table, _ = run_all(scale)
    return (comparison_claims(table) + equivalence_claims(table) + linear_init_claims(table)
            + precision_claims(table) + cam_claims(table, chapter_plan(scale).cam_dataset)
            + memorisation_claims(table, scale) + control_claims(table))
