"""Chapter 5 reproduction: plans for both scales, the APL variants, the paper's tables, the
offline pseudo-label simulation and the figure data on made-up numbers, and a three-epoch smoke
run of the chapter."""

import math

import matplotlib.pyplot as plt
import pytest
import torch

from mlteach.data.splits import LabelledSplit
from mlteach.reproduce import single_positive as sp
from mlteach.reproduce.claims import Verdict, verdict_table
from mlteach.reproduce.scale import SCALES
from mlteach.train import TrainConfig


@pytest.mark.parametrize("scale", SCALES)
def test_plans_give_valid_runs(scale):
    plan = sp.chapter_plan(scale)
    assert set(plan.datasets) == {"digits", "yeast"}
    assert plan.table().shape[0] == 2
    for name, dataset in plan.datasets.items():
        specs = sp.run_specs(name, scale)
        core = [m for m in sp.METHODS if m in sp.CORE_METHODS]
        assert set(dataset.seeds) <= set(dataset.seeds_of("EM"))
        assert len(specs) == ((len(sp.METHODS) - len(core) + len(sp.APL_VARIANTS)) * len(dataset.seeds)
                              + len(core) * len(dataset.seeds_of("EM")))
        assert len({repr(s.config) for s in specs}) == len(specs)
        apl = [s.config for s in specs if s.config.apl_warmup_epochs is not None]
        assert len(apl) == len(sp.APL_VARIANTS) * len(dataset.seeds) + len(dataset.seeds_of("EM + APL"))
        assert all(c.apl_warmup_epochs < c.epochs for c in apl)
        full = sp.run_specs(name, scale, full_labels=True)
        assert {s.config.loss for s in full} == {"bce_loss"}


def test_each_apl_question_is_a_trained_variant_changing_one_setting_of_em_plus_apl():
    specs = {s.method: s.config for s in sp.run_specs("yeast", "book") if s.seed == 0}
    published = specs["EM + APL"]
    assert (published.apl_theta, published.apl_positive_theta, published.apl_hard_labels) == (0.9, 0.0, False)
    assert published.loss_kwargs == {"alpha": 0.1, "beta": 0.9}
    changed = {name: {k for k, v in specs[name].to_dict().items() if v != published.to_dict()[k]}
               for name in sp.APL_VARIANTS}
    assert changed == {sp.LOW_PROPORTION: {"apl_theta"}, sp.HARD: {"apl_hard_labels"},
                       "EM + APL, beta 0.2": {"loss_kwargs"}, "EM + APL, beta 1 (no down-weighting)": {"loss_kwargs"},
                       sp.POSITIVE: {"apl_positive_theta"}}
    assert specs[sp.POSITIVE].apl_positive_theta == sp.POSITIVE_PROPORTION == 0.1


def test_full_scale_is_larger_and_shares_nothing_with_pretraining():
    book, full = sp.chapter_plan("book"), sp.chapter_plan("full")
    for name in book.datasets:
        assert len(full.datasets[name].seeds) > len(book.datasets[name].seeds)
    digits = full.datasets["digits"]
    assert digits.base.model == "resnet" and digits.base.pretrained.digits != digits.builder_kwargs["source"]
    with pytest.raises(ValueError, match="scale"):
        sp.chapter_plan("huge")


def test_the_digit_and_yeast_settings_match_chapter_4():
    from mlteach.reproduce import large_loss

    for scale in SCALES:
        ours, theirs = sp.chapter_plan(scale).datasets, large_loss.chapter_plan(scale).datasets
        assert ours["digits"].base == theirs["digits, single positive"].base
        assert ours["digits"].builder_kwargs == theirs["digits, single positive"].builder_kwargs
        assert ours["yeast"].base == theirs["yeast, single positive"].base


def test_paper_tables_are_complete():
    assert sp.PAPER_TABLE4.shape == (6, 4) and sp.PAPER_TABLE5.shape == (6, 4)
    assert not sp.PAPER_TABLE4.isna().any().any() and not sp.PAPER_TABLE5.isna().any().any()
    assert sp.PAPER_TABLE5.loc["beta", "COCO"] == 0.9 and sp.PAPER_TABLE5.loc["T_w", "CUB"] == 3
    assert sp.PAPER_TABLE6.to_dict() == {"VOC": 15.66, "COCO": 15.29, "NUS": 9.18, "CUB": 19.34}
    assert set(sp.PAPER_APL_ANSWERS) == {"Q1 sample proportion", "Q2 hard vs soft", "Q3 down-weighting",
                                         "Q4 positive pseudo-labels"}
    assert sp.METHODS["EM"][1]["alpha"] == sp.PAPER_TABLE5.loc["alpha", "COCO"]


def _split():
    targets = torch.tensor([[1., -1., -1.], [-1., 1., -1.], [-1., -1., 1.], [1., -1., -1.]])
    truth = torch.tensor([[1., 1., 0.], [0., 1., 0.], [1., 0., 1.], [1., 0., 0.]])
    return LabelledSplit(torch.zeros(4, 2), targets, truth)


def test_simulated_pseudo_labels_take_the_extremes_of_the_unknown_entries():
    split = _split()  # unknown entries per class: 2, 3, 3
    probabilities = torch.tensor([[0.9, 0.8, 0.3], [0.2, 0.9, 0.1], [0.7, 0.4, 0.8], [0.9, 0.2, 0.6]])
    trajectory = torch.stack([torch.full((4, 3), 0.5), probabilities, probabilities])  # epochs 0, 1, 2
    unknown = split.targets == -1
    for positive in (True, False):  # proportion 1 over E - T_w = 1 epoch: every unknown entry at once
        everything = sp.simulated_pseudo_labels(trajectory, split, warmup_epochs=1, proportion=1.0, positive=positive)
        assert torch.equal(everything, unknown)
    # proportion 0.5: one entry per class at epoch 1 and one more at epoch 2, never a known entry
    positive = sp.simulated_pseudo_labels(trajectory, split, warmup_epochs=1, proportion=0.5, positive=True)
    negative = sp.simulated_pseudo_labels(trajectory, split, warmup_epochs=1, proportion=0.5, positive=False)
    assert positive.T.tolist() == [[False, True, True, False], [True, False, True, False], [True, False, False, True]]
    assert negative.T.tolist() == [[False, True, True, False], [False, False, True, True], [True, True, False, False]]


def test_unannotated_proportions_split_the_unknown_entries():
    table = sp.unannotated_proportions(_split(), ["a", "b", "c"])
    assert table["unannotated positive"].tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])
    assert (table["unannotated positive"] + table["unannotated negative"]).tolist() == pytest.approx([1, 1, 1])


def _tiny_plan(scale=None):
    cnn = TrainConfig(model="small_cnn", model_kwargs={"widths": (4, 8)}, epochs=3, batch_size=32,
                      progress=False, eval_splits=("val",))
    mlp = TrainConfig(model="mlp", model_kwargs={"hidden": (8,)}, epochs=3, batch_size=256,
                      progress=False, eval_splits=("val",))
    return sp.ChapterPlan("book", {
        "digits": sp.DatasetPlan("mosaics", dict(source="sklearn", n_train=64, n_val=32, n_test=32, seed=0), cnn,
                                 warmup_epochs=1, seeds=(0, 1), density_classes=(0, 1), workers=1),
        "yeast": sp.DatasetPlan("yeast", {"seed": 0}, mlp, warmup_epochs=1, seeds=(0,), density_classes=(0,),
                                workers=1),
    })


def test_smoke_run_of_the_whole_chapter(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTEACH_RUNS", str(tmp_path))
    monkeypatch.setattr(sp, "chapter_plan", _tiny_plan)
    caches = (sp._run_chapter, sp._trajectories, sp._selected_probabilities, sp._f1_rows)
    for cache in caches:
        cache.cache_clear()
    try:
        runs = sp.run_chapter("book")
        assert set(runs) == {"digits", "yeast"}
        assert sp.comparison_table("book").shape == (len(sp.METHODS) + 1, 2)
        logits = sp.trajectories("book")[("digits", "EM")]
        assert logits.shape == (4, 64, 10)  # before training and after each of 3 epochs
        again = sp.training_logits_per_epoch(runs["digits"].runs("EM")[0].config, sp.chapter_data("digits", "book"))
        assert torch.equal(again, logits)  # from the runs folder
        curves = sp.positive_loss_curves("book")
        assert curves["epoch"].min() == 0 and curves["positive loss"].gt(0).all()
        assert set(sp.logit_magnitudes("book")["entries"]) == {"unannotated positive", "unannotated negative"}
        assert sp.positive_probabilities("book")["probability"].between(0, 1).all()
        assert set(sp.probability_densities("digits", "book")["class"]) == {"0", "1"}
        precision = sp.pseudo_label_precision("book")
        assert set(precision["pseudo-labels"]) == {"positive", "negative"}
        assert len(precision) == 2 * 3  # both kinds, for the 2 + 1 seeds of the positive variant
        positive_run = runs["digits"].runs(sp.POSITIVE)[0]
        made = positive_run.records["positive_labels_added"].sum()
        first = precision.query("dataset == 'digits' and seed == 0").set_index("pseudo-labels")
        assert first.loc["positive", "count"] == made > 0
        assert first["precision"].between(0, 1).all()
        assert sp.f1_table("book").shape[1] == 4
        assert sp.apl_table("book").shape == (2 + len(sp.APL_VARIANTS), 2)
        per_epoch = sp.apl_precision("book")
        assert set(per_epoch["pseudo-labels"]) == {"negative", "positive"}
        assert per_epoch.query("method == 'EM + APL' and `pseudo-labels` == 'positive'")["added"].eq(0).all()
        assert per_epoch["precision"].dropna().between(0, 1).all()
        sp.plot_apl_precision(per_epoch)
        noise = sp.soft_label_noise("book")
        assert noise["wrong share"].between(0, 1).all()
        assert not math.isnan(float(sp.distinguishability("book")["unannotated mAP"].mean()))
        verdicts = sp.verdicts("book")
        assert verdicts and all(isinstance(v, Verdict) and v.holds in (True, False, None) for v in verdicts)
        questions = [v for v in verdicts if "Sec. D" in v.source]
        assert len(questions) == 4 * 2 and all(" vs " in v.ours for v in questions)  # Q1-Q4 trained
        assert len(verdict_table(verdicts)) == len(verdicts)
        sp.plot_positive_loss(curves)
        sp.plot_logit_magnitudes(sp.logit_magnitudes("book"))
        sp.plot_positive_probabilities(sp.positive_probabilities("book"))
        data = sp.chapter_data("digits", "book")
        sp.plot_unannotated_proportions(sp.unannotated_proportions(data.train, data.class_names))
        sp.plot_probability_densities(sp.probability_densities("digits", "book"))
    finally:
        for cache in caches:
            cache.cache_clear()
        plt.close("all")
