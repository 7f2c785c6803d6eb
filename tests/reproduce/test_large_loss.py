"""Chapter 4 reproduction: plans for both scales, the paper's tables and gaps, the selection, the
CAM score, the claims on made-up run tables, and a two-epoch smoke run through the shared layer."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from mlteach.reproduce import large_loss as ll
from mlteach.reproduce.claims import KINDS, claim_table
from mlteach.reproduce.experiment import CONTROL_SEEDS, HEADLINE_SEEDS, SWEEP_SEEDS
from mlteach.reproduce.linear_protocol import linear_probe
from mlteach.reproduce.scale import SCALES
from mlteach.train import TrainConfig

DATASETS = ("digits, single positive", "digits, partial", "yeast, single positive", ll.SCENES_SINGLE_POSITIVE)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("dataset", DATASETS)
def test_plans_give_the_seed_policy_of_every_experiment(scale, dataset):
    plan = ll.chapter_plan(scale)
    assert tuple(plan.datasets) == DATASETS
    settings = plan.datasets[dataset]
    grid = ll.grid_runs(dataset, scale)
    assert len(grid) == 1 + 3 * len(settings.delta_rel_grid) + 3 * len(settings.absolute_grid)
    assert len({repr(r.config) for r in grid}) == len(grid)
    assert {r.seed for r in grid} == {HEADLINE_SEEDS[0]}  # the selection uses one seed
    selected = {r.method: r.setting for r in grid}  # the last setting of each method
    runs = ll.planned_runs(dataset, selected, "LL-Ct", scale)
    seeds = {}
    for r in runs:
        seeds.setdefault((r.experiment, r.method), []).append(r.seed)
    for method in ("AN", "LL-Ct", *ll.ABSOLUTE_METHODS):
        assert tuple(seeds["comparison", method]) == HEADLINE_SEEDS
    for method in ("LL-R", "LL-Cp"):
        assert tuple(seeds["comparison", method]) == SWEEP_SEEDS
    assert tuple(seeds["control", "AN"]) == CONTROL_SEEDS
    linear = {m for (experiment, m) in seeds if experiment == "LinearInit"}
    assert linear == ({"AN", "LL-Ct"} if settings.linear_init else set())
    assert all(r.config.scheme == "linear_init" for r in runs if r.experiment == "LinearInit")
    an = next(r for r in runs if r.method == "AN" and r.experiment == "comparison")
    assert an.config.loss == "assume_negative_loss"
    absolute = next(r for r in runs if r.method == "LL-Cp abs")
    assert absolute.config.large_loss_threshold is not None and absolute.config.loss_kwargs == {"scheme": "LL-Cp"}


def test_full_scale_is_larger_than_book_scale():
    book, full = ll.chapter_plan("book"), ll.chapter_plan("full")
    for name in book.datasets:
        assert len(full.datasets[name].absolute_grid) == 9  # the supplement's full grid
        assert full.datasets[name].base.epochs >= book.datasets[name].base.epochs
    assert full.datasets["digits, single positive"].base.model == "resnet"
    assert full.linear_init_epochs == 25
    with pytest.raises(ValueError, match="scale"):
        ll.chapter_plan("huge")


@pytest.mark.parametrize("scale", SCALES)
def test_the_80_class_scenes_search_the_papers_own_relative_grid(scale):
    plan = ll.chapter_plan(scale).datasets[ll.SCENES_SINGLE_POSITIVE]
    paper = set(ll.PAPER_SEARCH["delta_rel (percent of B*C per epoch)"])
    assert {round(100 * d, 6) for d in plan.delta_rel_grid} <= paper
    assert (plan.builder, plan.regime, plan.base.model_kwargs) == ("scene features", "single positive", {"hidden": ()})
    if scale == "book":  # built here: 80 classes, COCO's share of hidden positives (about 2.5 %)
        data = ll.chapter_data(ll.SCENES_SINGLE_POSITIVE, scale)
        assert len(data.class_names) == 80 and 0.02 < ll.hidden_positive_share(data.train) < 0.03


def test_paper_tables_gaps_and_margin():
    assert ll.PAPER_TABLE1.shape == (5, 4) and ll.PAPER_TABLE2.shape == (5, 6)
    for table in (ll.PAPER_TABLE1, ll.PAPER_TABLE2):
        assert not table.isna().any().any()
    gaps = ll.paper_gaps()
    assert gaps.to_numpy().min() == pytest.approx(-0.3) and gaps.to_numpy().max() == pytest.approx(0.9)
    assert gaps.loc["LL-R abs", "NUSWIDE"] == pytest.approx(0.9)  # the largest gap the paper calls similar
    assert ll.EQUIVALENCE_MARGIN == 1.0


def test_selection_takes_the_best_validation_setting():
    grid = pd.DataFrame({"method": ["AN", "LL-R", "LL-R", "LL-Ct", "LL-Cp", "LL-R abs"],
                         "setting": ["–", "a", "b", "c", "d", "e"],
                         "val_mAP_class": [0.5, 0.6, 0.7, 0.65, 0.4, 0.9]})
    assert ll.select_settings(grid) == {"AN": "–", "LL-R": "b", "LL-Ct": "c", "LL-Cp": "d", "LL-R abs": "e"}
    assert ll.best_relative(grid) == "LL-R"  # an absolute variant is never LL-relative


def test_localisation_scores_and_chance_on_a_made_up_mosaic():
    index = ll.cell_index_map({"grid": (2, 2), "cell_size": (2, 2)})
    assert index.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
    cell_labels = torch.tensor([[3, -1, 3, 5]])
    truth = torch.zeros(1, 6)
    truth[0, [3, 5]] = 1
    cams = torch.zeros(1, 6, 4, 4)
    cams[0, 3, :2, :2] = 1.0   # class 3: all its mass in cell 0, which holds a 3
    cams[0, 5, :2, :2] = 1.0   # class 5: one third of its mass in cell 3, which holds the 5
    cams[0, 5, 2:, 2:] = 0.5
    cams[0, 5, 2:, :2] = -4.0  # negative values carry no mass
    cams[0, 1] = 1.0           # class 1 is not in the image: not scored
    scores = ll.localisation_scores(cams, cell_labels, truth, index)
    assert scores[0, [3, 5]].tolist() == pytest.approx([1.0, 1 / 3])
    assert torch.isnan(scores[0, [0, 1, 2, 4]]).all()
    assert ll.chance_localisation(cell_labels, truth, num_cells=4) == pytest.approx((2 / 4 + 1 / 4) / 2)


def test_hidden_positive_share_counts_unknown_entries_only():
    split = ll.chapter_data("yeast, single positive", "book").train
    unknown = split.targets == -1
    assert 0 < ll.hidden_positive_share(split) == pytest.approx(float(split.true_targets[unknown].mean()))


RESAMPLES = 30


def fake_table(lead: float, precision: float = 40.0) -> pd.DataFrame:
    """A made-up run table: every Large Loss method leads AN by ``lead`` points of test mAP (and
    of localisation), the absolute variants equal LL-relative, the schemes modify entries with
    ``precision`` % truly positive against 20 % at random. Seeds differ by 0.1 point and test
    resamples by 0.2."""
    wobble = np.linspace(-0.2, 0.2, RESAMPLES)
    rows = []
    for dataset in DATASETS:
        def row(experiment, method, seed, score, val=0.5):
            value = score + 0.1 * (seed % 100)
            return {"dataset": dataset, "experiment": experiment, "method": method, "setting": "s", "seed": seed,
                    "run_key": f"{dataset}-{experiment}-{method}-{seed}", "val_mAP_class": val, "train_seconds": 1.0,
                    "classes": 10 if "digits" in dataset else 14, "mAP_class": value, "mAP_class_boot": value + wobble,
                    "localisation": value, "localisation_boot": value + wobble, "localisation_chance": 25.0,
                    "precision": math.nan if method == "AN" else precision + 0.1 * (seed % 100), "chance": 20.0,
                    "modified_per_epoch": 0.0 if method == "AN" else 50.0, "threshold_zero_epoch": math.nan,
                    "annotated_probability": 0.8, "hidden_probability": 0.7, "test_probability": 0.75}

        rows += [row("grid", m, 0, math.nan, val=0.6 if m == "LL-Ct" else 0.5) for m in ll.METHODS]
        for method in ll.METHODS:
            seeds = SWEEP_SEEDS if method in ("LL-R", "LL-Cp") else HEADLINE_SEEDS
            rows += [row("comparison", method, s, 70.0 + (0 if method == "AN" else lead)) for s in seeds]
        rows += [row("control", "AN", s, 70.0 + 0.5 * math.sin(s)) for s in CONTROL_SEEDS]
        if dataset == DATASETS[0]:
            rows += [row("LinearInit", m, s, 70.0 + (lead if m == "LL-Ct" else 0)) for m in ("AN", "LL-Ct")
                     for s in SWEEP_SEEDS]
    return pd.DataFrame(rows)


def _check(found, kind, expected, seeds):
    assert found
    for claim in found:
        assert claim.kind == kind and claim.verdict == expected, claim
        assert claim.chapter == ll.CHAPTER and claim.seeds == seeds
        assert claim.classes == (10 if "digits" in claim.dataset else 14)
        assert claim.link.startswith(ll.PAGE + "#")
        assert "nan" not in claim.paper.lower() and "nan" not in claim.ours.lower()
        assert claim.ci_low <= claim.effect <= claim.ci_high
        assert (claim.note == "") == (expected == "holds")


@pytest.mark.parametrize("lead, expected", [(5.0, "holds"), (-5.0, "does not hold"), (0.0, "inconclusive")])
def test_greater_claims_follow_the_numbers(lead, expected):
    table = fake_table(lead)
    comparison = ll.comparison_claims(table)
    assert len(comparison) == 4 * len(DATASETS)
    _check(comparison, "greater", expected, len(HEADLINE_SEEDS))
    assert any("LL-relative (LL-Ct)" in c.claim for c in comparison)
    assert any(c.paper.startswith("VOC 89.20 vs 85.10") for c in comparison)
    assert any(c.paper == "OpenImages 82.60 vs 82.00" for c in comparison)
    _check(ll.linear_init_claims(table), "greater", expected, len(SWEEP_SEEDS))
    cams = ll.cam_claims(table)
    _check(cams, "greater", expected, len(HEADLINE_SEEDS))  # LL-Ct is LL-relative here: its five seeds


@pytest.mark.parametrize("offset, expected", [(0.0, "holds"), (3.0, "does not hold"), (0.9, "inconclusive")])
def test_equivalence_claims_need_the_whole_interval_inside_the_margin(offset, expected):
    table = fake_table(2.0)
    absolute = (table["experiment"] == "comparison") & table["method"].isin(ll.ABSOLUTE_METHODS)
    shift = offset + 0.5 * (-1.0) ** table.loc[absolute, "seed"]  # seed noise: the interval is 2 x 0.68 wide
    table.loc[absolute, "mAP_class"] += shift
    table["mAP_class_boot"] = [b + d for b, d in zip(table["mAP_class_boot"], shift.reindex(table.index, fill_value=0))]
    found = ll.equivalence_claims(table)
    assert len(found) == 3 * len(DATASETS)
    _check(found, "equivalent", expected, len(HEADLINE_SEEDS))
    assert all(c.margin == ll.EQUIVALENCE_MARGIN and "±1 mAP point" in c.claim for c in found)
    assert any("NUSWIDE 0.90" in c.paper for c in found) and any(c.paper.endswith("OpenImages 0.30") for c in found)


@pytest.mark.parametrize("precision, expected", [(40.0, "holds"), (5.0, "does not hold"), (19.9, "inconclusive")])
def test_precision_claims_are_one_per_scheme_on_every_seed(precision, expected):
    found = ll.precision_claims(fake_table(2.0, precision))
    assert [c.claim.split(":")[0] for c in found] == list(ll.RELATIVE_METHODS) * len(DATASETS)
    for claim in found:
        seeds = len(HEADLINE_SEEDS) if claim.claim.startswith("LL-Ct") else len(SWEEP_SEEDS)
        _check([claim], "mechanism", expected, seeds)


def test_controls_compare_an_with_itself_on_other_seeds():
    controls = ll.control_claims(fake_table(5.0))
    assert [c.dataset for c in controls] == list(DATASETS)
    for claim in controls:
        assert claim.kind == "control" and claim.verdict == "inconclusive"
        assert claim.claim == "A/A control: AN (seeds 0-4) vs AN (seeds 100-104)"


def test_tables_show_no_missing_numbers():
    table = fake_table(2.0)
    for shown in (ll.comparison_table(table), ll.paper_comparison(table), ll.linear_init_table(table),
                  ll.summary_table(table, ll.PRECISION), ll.summary_table(table, ll.LOCALISATION, dataset=DATASETS[0]),
                  ll.summary_table(table, ll.MEMORISATION, methods=("AN", "LL-R"), digits=2)):
        assert not shown.isna().any().any()
        assert "nan" not in shown.to_string().lower()
    assert list(ll.paper_comparison(table).index) == list(ll.PAPER_TABLE1.index)


def _tiny_plan(scale=None):
    cnn = TrainConfig(model="small_cnn", model_kwargs={"widths": (4, 8)}, epochs=2, batch_size=32,
                      progress=False, eval_splits=("val",))
    mlp = TrainConfig(model="mlp", model_kwargs={"hidden": (8,)}, epochs=2, batch_size=256,
                      progress=False, eval_splits=("val",))
    digits = dict(source="sklearn", n_train=64, n_val=32, n_test=32, seed=0)
    relative, absolute = (0.1,), ((1.0, 0.5),)
    return ll.ChapterPlan("book", {
        "digits, single positive": ll.DatasetPlan("mosaics", digits, "single positive", cnn, relative, absolute,
                                                  linear_init=True, workers=1),
        "digits, partial": ll.DatasetPlan("mosaics", digits, "partial", cnn, relative, absolute,
                                          partial_q=ll.CLASS_DEPENDENT_HIDING, workers=1),
        "yeast, single positive": ll.DatasetPlan("yeast", {"seed": 0}, "single positive", mlp, relative,
                                                 absolute, workers=1, memorisation_epochs=3),
        ll.SCENES_SINGLE_POSITIVE: ll.DatasetPlan("scene features", dict(n_train=96, n_val=48, n_test=48),
                                                  "single positive", linear_probe("book", epochs=2), relative,
                                                  absolute, workers=1),
    }, linear_init_epochs=1)


def test_smoke_run_of_the_whole_chapter(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTEACH_RUNS", str(tmp_path))
    monkeypatch.setattr(ll, "chapter_plan", _tiny_plan)
    monkeypatch.setattr(ll, "HEADLINE_SEEDS", (0, 1))
    monkeypatch.setattr(ll, "SWEEP_SEEDS", (0, 1))
    monkeypatch.setattr(ll, "CONTROL_SEEDS", (100, 101))
    ll._run_all.cache_clear()
    try:
        table, results = ll.run_all("book")
        assert set(table["experiment"]) == {"grid", "comparison", "LinearInit", "memorisation", "control"}
        assert set(table["run_key"]) == set(results)
        comparison = table[table["experiment"] == "comparison"]
        assert comparison["mAP_class_boot"].map(len).eq(200).all()
        assert comparison.loc[comparison["method"] == "AN", "precision"].isna().all()
        assert comparison.loc[comparison["dataset"].str.startswith("digits"), "localisation"].between(0, 100).all()
        found = ll.claims("book")
        assert {c.kind for c in found} <= set(KINDS) and {c.kind for c in found} == set(KINDS)
        assert sum(c.kind == "control" for c in found) == len(DATASETS)
        assert len(claim_table(found)) == len(found)
        assert not ll.comparison_table(table).isna().any().any()
        ll.plot_cams(table, results, ll.chapter_data("digits, single positive", "book"), examples=2)
        ll.plot_correction_precision(ll.correction_curves(table, results))
        groups = ll.group_table(table)  # Table 2's layout: G1-G5 and all groups, paper beside ours
        assert list(groups.columns.get_level_values(1)) == [*ll.ANNOTATION_GROUPS, "All Gs"] * 2
        assert not groups.isna().any().any() and ((groups >= 0) & (groups <= 100)).all().all()
        curves = ll.memorisation_curves(table, results)
        assert len(curves) == 3 * 2 * len(ll.MEMORISATION_METHODS)  # epochs x seeds x methods
        assert list(ll.memorisation_table(curves).index) == list(ll.MEMORISATION_METHODS)
        ll.plot_memorisation(curves)
        memorisation = ll.memorisation_claims(table, "book")
        assert [c.kind for c in memorisation] == ["mechanism", "greater", "greater", "greater"]
        assert all(c.link.endswith("#the-memorisation-phase") for c in memorisation)
    finally:
        ll._run_all.cache_clear()
        plt.close("all")


def test_the_early_epoch_of_the_memorisation_claims_is_a_third_of_the_run():
    assert [ll.early_epoch(n) for n in (1, 2, 3, 60, 61, 120)] == [1, 1, 1, 20, 20, 40]


def test_the_class_dependent_regime_hides_digit_0_most_and_digit_9_least():
    hiding = ll.CLASS_DEPENDENT_HIDING
    assert len(hiding) == 10 and hiding[0] == 0.8 and hiding[-1] == 0.2 and abs(sum(hiding) / 10 - 0.5) < 1e-9
    data = ll.chapter_data("digits, partial", "book")
    groups = data.meta["annotation_groups"]
    assert groups["G1"] == [0, 1] and groups["G5"] == [8, 9]
