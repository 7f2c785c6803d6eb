"""Chapter 2 reproduction: plans for both scales, the paper's numbers, the L2 sweep, the transfer
task, the claims on made-up run tables, and a one-epoch smoke run through the shared layer."""

import math
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlteach.data import make_digit_mosaics
from mlteach.reproduce import two_way as tw
from mlteach.reproduce.linear_protocol import SCENES_NAME, linear_probe, scene_options
from mlteach.reproduce.scale import SCALES
from mlteach.reproduce.evaluation import test_scores
from mlteach.reproduce.experiment import HEADLINE_SEEDS, run_table


@pytest.mark.parametrize("scale", SCALES)
def test_plans_give_valid_distinct_runs_for_every_experiment(scale):
    plan = tw.chapter_plan(scale)
    assert set(plan.datasets) == {"digit mosaics", "yeast", SCENES_NAME}
    assert list(plan.table().columns) == ["digit mosaics", "yeast", SCENES_NAME]
    for name, dataset in plan.datasets.items():
        runs = tw.planned_runs(name, scale)
        assert {r.experiment for r in runs} == {"comparison", "temperature", "margin", "control"}
        comparison = [r for r in runs if r.experiment == "comparison"]
        assert len(comparison) == len(tw.METHODS) * len(dataset.seeds)
        assert len(dataset.seeds) >= 5  # the headline claims rest on at least five seeds
        assert {1.0, tw.DEFAULT_TP} <= set(dataset.tp_values)
        # the default two-way run of the comparison is the sweeps' run at Tp = 4, Tn = 1
        default = next(r.config for r in comparison if r.method == "two-way" and r.seed == dataset.sweep_seeds[0])
        assert any(r.config == default for r in runs if r.experiment == "temperature")
        assert any(r.config == default for r in runs if r.experiment == "margin")
        control = [r for r in runs if r.experiment == "control"]
        assert {r.method for r in control} == {tw.CONTROL_METHOD}
        assert len(control) == len(dataset.seeds) and not {r.seed for r in control} & set(dataset.seeds)


@pytest.mark.parametrize("scale", SCALES)
def test_scenes_are_the_linear_protocol_with_the_headline_seeds_and_a_control(scale):
    scenes = tw.chapter_plan(scale).datasets[SCENES_NAME]
    assert (scenes.builder, scenes.builder_kwargs, scenes.base) == ("scene features", scene_options(scale=scale),
                                                                   linear_probe(scale))
    assert scenes.seeds == HEADLINE_SEEDS
    runs = tw.planned_runs(SCENES_NAME, scale)
    assert {r.dataset for r in runs} == {SCENES_NAME}
    comparison = {(r.method, r.seed) for r in runs if r.experiment == "comparison"}
    assert comparison == {(method, seed) for method in tw.METHODS for seed in HEADLINE_SEEDS}
    control = [r for r in runs if r.experiment == "control"]
    bce = next(r.config for r in runs if r.experiment == "comparison" and r.method == tw.CONTROL_METHOD)
    assert len(control) == 5 and all(r.config == bce.replace(seed=r.seed) for r in control)
    # the sweeps still hold both sides of the temperature claim and a margin to choose
    settings = {r.setting for r in runs if r.experiment == "temperature"}
    assert {"Tp = 1, Tn = 1", "Tp = 4, Tn = 1"} <= settings
    assert len({r.setting for r in runs if r.method == "margin bias"}) >= 2


def test_scenes_sweeps_are_reduced_at_book_scale_and_the_table_says_so():
    book, full = tw.chapter_plan("book"), tw.chapter_plan("full")
    assert len(book.datasets[SCENES_NAME].tp_values) < len(full.datasets[SCENES_NAME].tp_values)
    notes = book.table().loc["note"]
    assert notes["digit mosaics"] == notes["yeast"] == "–"
    assert "time budget" in notes[SCENES_NAME]


def test_full_scale_is_larger_than_book_scale():
    book, full = tw.chapter_plan("book"), tw.chapter_plan("full")
    for name in book.datasets:
        assert len(full.datasets[name].sweep_seeds) > len(book.datasets[name].sweep_seeds)
        assert full.datasets[name].base.epochs > book.datasets[name].base.epochs
    assert full.datasets["digit mosaics"].base.model == "resnet"
    assert full.datasets["digit mosaics"].builder_kwargs["source"] != full.transfer.source
    assert book.datasets["digit mosaics"].builder_kwargs["source"] != book.transfer.source
    with pytest.raises(ValueError, match="scale"):
        tw.chapter_plan("huge")


def test_paper_tables_are_complete():
    assert tw.PAPER_RANKING_COCO.shape == (4, 2) and tw.PAPER_NUSWIDE.shape == (3, 2)
    for table in (tw.PAPER_RANKING_COCO, tw.PAPER_NUSWIDE):
        assert not table.isna().any().any()
        assert ((table > 0) & (table < 100)).all().all()
    assert tw.PAPER_RANKING_COCO.loc["two-way", "mAP@class"] == 74.11
    assert tw.PAPER_NUSWIDE.loc["softmax", "mAP@sample"] == 82.77


def test_strengths_follow_the_supplement():
    strengths = tw.regularisation_strengths()
    assert len(strengths) == tw.PAPER_TRANSFER_PROTOCOL["strengths"] == 45
    assert strengths[0] == pytest.approx(1e-6) and strengths[-1] == pytest.approx(1e5)
    assert np.allclose(np.diff(np.log10(strengths)), 11 / 44)


def test_l2_sweep_fits_separable_features_and_raises_no_warning():
    rng = np.random.default_rng(0)
    labels = {split: rng.integers(0, 3, n) for split, n in (("train", 120), ("val", 60), ("test", 60))}
    centres = 3 * rng.normal(size=(3, 5))
    features = {split: centres[y] + rng.normal(size=(len(y), 5)) for split, y in labels.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sweep = tw.l2_sweep(features, labels, strengths=[1e-4, 1e-2, 1e4], max_iter=5)
    assert list(sweep["strength"]) == [1e-4, 1e-2, 1e4]
    assert sweep.loc[1, "test"] > 0.9
    assert not sweep["converged"].all()  # five iterations are too few, and that is reported


def test_transfer_task_places_one_digit_of_the_other_source():
    data = make_digit_mosaics(n_train=20, n_val=5, n_test=5)
    task = tw.transfer_task(data, tw.TransferPlan(source="mnist5k", sizes=(30, 10, 20)))
    assert {k: tuple(v.shape) for k, v in task.images.items()} == {
        "train": (30, 1, 16, 16), "val": (10, 1, 16, 16), "test": (20, 1, 16, 16)}
    assert all(set(np.unique(v)) <= set(range(10)) for v in task.labels.values())
    blank = (0 - data.meta["pixel_mean"]) / data.meta["pixel_std"]
    # three of the four 8x8 cells of every image are blank
    cells = task.images["train"].reshape(30, 2, 8, 2, 8).permute(0, 1, 3, 2, 4).reshape(30, 4, 64)
    blank_cells = (cells - blank).abs().amax(dim=2) < 1e-6
    assert (blank_cells.sum(dim=1) == 3).all()
    with pytest.raises(ValueError, match="other than"):
        tw.transfer_task(data, tw.TransferPlan(source="sklearn", sizes=(10, 10, 10)))


RESAMPLES = 30


def fake_runs(lead: float) -> pd.DataFrame:
    """Made-up run table in which every claim of the chapter wins by ``lead`` points (loses if
    negative): two-way > sample-wise > WARP, two-way > the other losses, Tp = 4 > Tp = 1 >
    margin bias. Seeds differ by 0.1 point and test resamples by 0.2, far less than a lead of 5."""
    comparison = {method: 70.0 for method in tw.METHODS}
    comparison.update({"two-way": 70.0 + lead, "WARP": 70.0 - lead})
    wobble = np.linspace(-0.2, 0.2, RESAMPLES)
    rows = []
    for dataset in ("digit mosaics", "yeast", SCENES_NAME):
        for seed in range(5):
            def row(experiment, method, score, setting=""):
                value = score + 0.1 * seed
                return {"dataset": dataset, "experiment": experiment, "method": method, "setting": setting,
                        "seed": seed, "run_key": f"{experiment}-{method}-{setting}-{seed}", "train_seconds": 1.0,
                        "val_mAP_class": value / 100,
                        **{metric: value for metric in ("mAP_class", "mAP_sample")},
                        **{f"{metric}_boot": value + wobble for metric in ("mAP_class", "mAP_sample")}}

            rows += [row("comparison", method, score) for method, score in comparison.items()]
            rows.append(row("control", "BCE", 70.0 + 0.5 * math.sin(seed)))
            rows.append(row("temperature", "two-way", 70.0 + lead, "Tp = 4, Tn = 1"))
            rows.append(row("temperature", "two-way", 70.0, "Tp = 1, Tn = 1"))
            rows.append(row("margin", "two-way", 70.0 + lead, "Tp = 4, Tn = 1"))
            rows += [row("margin", "margin bias", 70.0, f"margin = {m}") for m in (0, 1)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("lead, expected", [(5.0, "holds"), (-5.0, "does not hold"), (0.0, "inconclusive")])
def test_claims_follow_the_numbers(lead, expected):
    runs = fake_runs(lead)
    found = tw.comparison_claims(runs) + tw.temperature_claims(runs) + tw.margin_claims(runs)
    assert len(found) == 3 * (8 + 1 + 2)
    for claim in found:
        assert claim.verdict == expected, claim
        assert (claim.note == "") == (expected == "holds")
        # on the scenes a failed claim says what of the paper's regime is kept and what is not
        assert ("linear classifier" in claim.note) == (claim.dataset == SCENES_NAME and expected != "holds")
        assert claim.chapter == tw.CHAPTER and claim.kind == "greater" and claim.seeds == 5
        assert claim.classes == {"digit mosaics": 10, "yeast": 14, SCENES_NAME: 80}[claim.dataset]
        assert claim.link.startswith("ch2_two_way_experiments.html#experiment-")
        assert claim.ci_low <= claim.effect <= claim.ci_high
        if expected != "inconclusive":
            assert claim.effect == pytest.approx(abs(lead) * (1 if expected == "holds" else -1))


def test_controls_compare_the_control_method_with_itself():
    controls = tw.control_claims(fake_runs(5.0))
    assert len(controls) == 6 and {c.dataset for c in controls} == {"digit mosaics", "yeast", SCENES_NAME}
    assert all(c.kind == "control" and c.verdict == "inconclusive" and "BCE (seeds 0-4)" in c.claim
               for c in controls)


def test_transfer_claims_and_tables():
    rows = []
    for method in tw.TRANSFER_METHODS:
        for seed in range(5):
            accuracy = 0.8 + (0.1 if method == "two-way" else 0) + 0.001 * seed
            boot = accuracy + np.linspace(-0.01, 0.01, RESAMPLES)
            rows.append({"method": method, "seed": seed, "best_test": accuracy, "best_boot": boot,
                         "chosen_test": accuracy - 0.2, "chosen_boot": boot - 0.2, "feature_dim": 48})
    summary = pd.DataFrame(rows)
    found = tw.transfer_claims(summary)
    assert [c.verdict for c in found] == ["holds", "holds"]
    assert found[0].effect == pytest.approx(10.0)  # in percent
    assert [c.verdict for c in tw.transfer_claims(summary, column="chosen")] == ["holds", "holds"]
    runs = fake_runs(5.0)
    assert tw.comparison_table(runs).shape == (len(tw.METHODS), 6)
    beside = tw.paper_comparison(runs)
    assert beside.loc["two-way", ("COCO (suppl. Tab. B)", "mAP@class")] == "74.11"
    assert beside.loc["two-way", ("ours: yeast", "mAP@class")] == "75.20"
    assert beside.loc["WARP", (f"ours: {SCENES_NAME}", "mAP@sample")] == "65.20"
    assert beside.loc["BCE", ("COCO (suppl. Tab. B)", "mAP@class")] == "–"  # a dash, never NaN


def test_one_epoch_smoke_run_and_linear_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTEACH_RUNS", str(tmp_path))
    data = make_digit_mosaics(n_train=64, n_val=32, n_test=32)
    run = next(r for r in tw.planned_runs("digit mosaics", "book") if r.method == "two-way")
    run = replace(run, config=run.config.replace(epochs=1, model_kwargs={"widths": (4, 8)}))
    table, (result,) = run_table([run], {"digit mosaics": data}, test_scores, workers=1)
    assert 0 <= table.loc[0, "mAP_class"] <= 100
    assert table.loc[0, "mAP_class_boot"].shape == (200,)
    task = tw.transfer_task(data, tw.TransferPlan(source="mnist5k", sizes=(40, 20, 20)))
    sweep = tw.evaluate_backbone(result, task, max_iter=50)
    assert len(sweep) == 45 and (sweep["feature_dim"] == 8).all()
    assert sweep[["train", "val", "test"]].apply(lambda c: c.between(0, 1)).all().all()
    assert all(np.mean(c) == pytest.approx(t) for c, t in zip(sweep["test_correct"], sweep["test"]))
