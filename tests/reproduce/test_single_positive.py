"""Chapter 5 reproduction: the run plan and its seed policy, the APL variants, the paper's
tables, F1 on test resamples, the pseudo-label simulation, and the claims of a tiny chapter
(monkeypatched data settings, seeds and baselines) checked data set by data set."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mlteach.data.splits import LabelledSplit
from mlteach.metrics import f1_scores
from mlteach.reproduce import single_positive as sp
from mlteach.reproduce.claims import KINDS, VERDICTS, claim_table, decide
from mlteach.reproduce.evidence import RESAMPLES, image_resamples
from mlteach.reproduce.linear_protocol import SCENES_NAME, linear_probe
from mlteach.reproduce.experiment import CONTROL_SEEDS, HEADLINE_SEEDS, SWEEP_SEEDS
from mlteach.reproduce.scale import SCALES
from mlteach.train import TrainConfig


@pytest.mark.parametrize("scale", SCALES)
def test_the_plan_trains_headline_methods_on_five_seeds_and_the_rest_on_sweep_seeds(scale):
    runs = sp.plan(scale)
    assert {r.dataset for r in runs} == {"digits", "yeast", SCENES_NAME}
    seeds = {}
    for run in runs:
        seeds.setdefault((run.dataset, run.experiment, run.method), set()).add(run.seed)
        assert run.config.seed == run.seed
    for name in ("digits", "yeast", SCENES_NAME):
        for method in sp.CORE_METHODS:
            assert seeds[(name, "comparison", method)] == set(HEADLINE_SEEDS)
        for method in sp.BASELINES:
            assert seeds[(name, "comparison", method)] == set(SWEEP_SEEDS)
        for method in sp.APL_VARIANTS:
            assert seeds[(name, "APL questions", method)] == set(SWEEP_SEEDS)
        assert seeds[(name, "full labels", sp.FULL_LABEL_METHOD)] == set(SWEEP_SEEDS)
        assert seeds[(name, "control", "AN")] == set(CONTROL_SEEDS)
    assert len({repr((r.dataset, r.config)) for r in runs}) == len(runs)
    apl = [r.config for r in runs if r.config.apl_warmup_epochs is not None]
    assert apl and all(c.apl_warmup_epochs < c.epochs for c in apl)


@pytest.mark.parametrize("scale", SCALES)
def test_each_apl_question_is_a_trained_variant_changing_one_setting_of_em_plus_apl(scale):
    setting = sp.data_settings(scale)["yeast"]
    published = sp.method_config(setting, "EM + APL")
    assert (published.apl_theta, published.apl_positive_theta, published.apl_hard_labels) == (0.9, 0.0, False)
    assert published.loss_kwargs == {"alpha": 0.1, "beta": 0.9}
    changed = {name: {k for k, v in sp.method_config(setting, name).to_dict().items() if v != published.to_dict()[k]}
               for name in sp.APL_VARIANTS}
    assert changed == {sp.LOW_PROPORTION: {"apl_theta"}, sp.HARD: {"apl_hard_labels"}, sp.LOW_BETA: {"loss_kwargs"},
                       sp.NO_DOWN_WEIGHTING: {"loss_kwargs"}, sp.POSITIVE: {"apl_positive_theta"}}
    assert sp.method_config(setting, sp.POSITIVE).apl_positive_theta == sp.POSITIVE_PROPORTION == 0.1


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", ["digits", "yeast", SCENES_NAME])
def test_the_base_settings_are_chapter_4s_so_the_an_runs_are_shared(scale, name):
    from mlteach.reproduce import large_loss

    ours, theirs = sp.data_settings(scale)[name], large_loss.chapter_plan(scale).datasets[f"{name}, single positive"]
    assert ours.base == theirs.base and ours.builder_kwargs == theirs.builder_kwargs


@pytest.mark.parametrize("check", ["tables", "hidden positives", "unknown scale"])
def test_paper_numbers_and_settings(check):
    if check == "tables":
        assert sp.PAPER_TABLE4.shape == (6, 4) and sp.PAPER_TABLE5.shape == (6, 4)
        assert not sp.PAPER_TABLE4.isna().any().any() and not sp.PAPER_TABLE5.isna().any().any()
        assert sp.PAPER_TABLE6.to_dict() == {"VOC": 15.66, "COCO": 15.29, "NUS": 9.18, "CUB": 19.34}
        assert sp.METHODS["EM"][1]["alpha"] == sp.PAPER_TABLE5.loc["alpha", "COCO"]
    elif check == "hidden positives":  # VOC: 0.46 hidden positives among 19 unknown labels
        shares = sp.paper_hidden_positive_shares()
        assert shares["VOC"] == pytest.approx(100 * 0.46 / 19) and shares["CUB"] == pytest.approx(100 * 30.4 / 311)
    else:
        with pytest.raises(ValueError, match="scale"):
            sp.data_settings("huge")


@pytest.mark.parametrize("threshold", sp.F1_THRESHOLDS)
def test_f1_replicates_match_f1_scores_on_the_whole_split_and_on_a_resample(threshold):
    generator = torch.Generator().manual_seed(0)
    p = torch.rand(40, 5, generator=generator)
    targets = (torch.rand(40, 5, generator=generator) < 0.4).float()
    resamples = torch.cat([torch.arange(40)[None], image_resamples(40, count=3, seed=1)])
    scores = sp.f1_replicates(p, targets, threshold, resamples)
    expected = f1_scores(p, targets, threshold=threshold)
    for name, value in (("micro-F1", expected.micro), ("macro-F1", expected.macro)):
        point, boot = scores[name]
        assert point == pytest.approx(100 * value) and boot[0] == pytest.approx(100 * value)
    resampled = f1_scores(p[resamples[2]], targets[resamples[2]], threshold=threshold)
    assert scores["micro-F1"][1][2] == pytest.approx(100 * resampled.micro)


def _split():
    targets = torch.tensor([[1., -1., -1.], [-1., 1., -1.], [-1., -1., 1.], [1., -1., -1.]])
    truth = torch.tensor([[1., 1., 0.], [0., 1., 0.], [1., 0., 1.], [1., 0., 0.]])
    return LabelledSplit(torch.zeros(4, 2), targets, truth)


@pytest.mark.parametrize("positive", [True, False])
def test_simulated_pseudo_labels_take_the_extremes_of_the_unknown_entries(positive):
    split = _split()  # unknown entries per class: 2, 3, 3
    probabilities = torch.tensor([[0.9, 0.8, 0.3], [0.2, 0.9, 0.1], [0.7, 0.4, 0.8], [0.9, 0.2, 0.6]])
    trajectory = torch.stack([torch.full((4, 3), 0.5), probabilities, probabilities])  # epochs 0, 1, 2
    # proportion 1 over E - T_w = 1 epoch: every unknown entry at once
    everything = sp.simulated_pseudo_labels(trajectory, split, warmup_epochs=1, proportion=1.0, positive=positive)
    assert torch.equal(everything, split.targets == -1)
    # proportion 0.5: one entry per class at epoch 1 and one more at epoch 2, never a known entry
    half = sp.simulated_pseudo_labels(trajectory, split, warmup_epochs=1, proportion=0.5, positive=positive)
    expected = ([[False, True, True, False], [True, False, True, False], [True, False, False, True]] if positive
                else [[False, True, True, False], [False, False, True, True], [True, True, False, False]])
    assert half.T.tolist() == expected


def test_unannotated_proportions_split_the_unknown_entries():
    table = sp.unannotated_proportions(_split(), ["a", "b", "c"])
    assert table["unannotated positive"].tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])
    assert (table["unannotated positive"] + table["unannotated negative"]).tolist() == pytest.approx([1, 1, 1])


def test_negative_shares_take_the_lowest_class_over_label_draws():
    """Two classes, every sample positive in both: the unknown entries of the class not drawn are
    all positives, so the lowest negative share is 0 on every draw and every resample."""
    class Data:
        train = LabelledSplit(torch.zeros(6, 1), torch.tensor([[1., -1.], [-1., 1.]] * 3), torch.ones(6, 2))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sp, "chapter_data", lambda name, scale=None, label_seed=0: Data)
        shares = sp.negative_shares("any")
    assert shares.seeds == sp.HEADLINE_SEEDS and np.all(shares.values == 0) and np.all(shares.replicates == 0)


# --------------------------------------------------------------------------- a tiny chapter
TINY_HEADLINE, TINY_SWEEP, TINY_CONTROL = (0, 1, 2), (0, 1), (100, 101, 102)
TINY_DATASETS = ("digits", "yeast", SCENES_NAME)


def _tiny_settings(scale=None):
    cnn = TrainConfig(model="small_cnn", model_kwargs={"widths": (4, 8)}, epochs=3, batch_size=32,
                      progress=False, eval_splits=("val",))
    mlp = TrainConfig(model="mlp", model_kwargs={"hidden": (8,)}, epochs=3, batch_size=256,
                      progress=False, eval_splits=("val",))
    return {"digits": sp.DataSetting("mosaics", dict(source="sklearn", n_train=64, n_val=32, n_test=32, seed=0), cnn,
                                     warmup_epochs=1, density_classes=(0, 1)),
            "yeast": sp.DataSetting("yeast", {"seed": 0}, mlp, warmup_epochs=1, density_classes=(0,)),
            SCENES_NAME: sp.DataSetting("scene features", dict(n_train=96, n_val=48, n_test=48),
                                        linear_probe("book", epochs=3), warmup_epochs=1)}


@pytest.fixture(scope="module")
def tiny_chapter(tmp_path_factory):
    """The whole chapter on tiny settings: three headline seeds, two sweep seeds, two baselines."""
    caches = (sp._chapter, sp._trajectories, sp._single_positive)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLTEACH_RUNS", str(tmp_path_factory.mktemp("runs")))
        patch.setenv("MLTEACH_WORKERS", "1")
        patch.setattr(sp, "data_settings", _tiny_settings)
        patch.setattr(sp, "HEADLINE_SEEDS", TINY_HEADLINE)
        patch.setattr(sp, "SWEEP_SEEDS", TINY_SWEEP)
        patch.setattr(sp, "CONTROL_SEEDS", TINY_CONTROL)
        patch.setattr(sp, "BASELINES", ("DW", "focal"))
        for cache in caches:
            cache.cache_clear()
        try:
            table, results = sp.run_chapter("book")
            yield {"table": table, "results": results, "claims": sp.claims("book"),
                   "pages": {"comparison": sp.comparison_table("book"), "f1": sp.f1_table("book"),
                             "apl": sp.apl_table("book"), "statistics": sp.training_statistics("book"),
                             "precision": sp.pseudo_label_precision("book"), "table6": sp.table6("book"), "noise": sp.soft_label_noise("book"),
                             "per epoch": sp.apl_precision("book"), "curves": sp.positive_loss_curves("book"),
                             "magnitudes": sp.logit_magnitudes("book"),
                             "probabilities": sp.positive_probabilities("book"),
                             "densities": sp.probability_densities("digits", "book"),
                             "shares": sp.negative_shares("yeast", "book"), "settings": sp.settings_table("book"),
                             "hidden": sp.hidden_positive_table("book")}}
        finally:
            for cache in caches:
                cache.cache_clear()
            plt.close("all")


@pytest.mark.parametrize("name", ["digits", "yeast", SCENES_NAME])
def test_tiny_chapter_runs_every_experiment_with_its_seeds(tiny_chapter, name):
    table = tiny_chapter["table"].query("dataset == @name")
    seeds = table.groupby(["experiment", "method"])["seed"].apply(lambda s: tuple(sorted(s)))
    for method in sp.CORE_METHODS:
        assert seeds[("comparison", method)] == TINY_HEADLINE
    best = sp.best_baseline(table, name)
    assert seeds[("comparison", best)] == TINY_HEADLINE  # extended to the headline seeds
    assert all(seeds[("comparison", m)] == TINY_SWEEP for m in ("DW", "focal") if m != best)
    assert seeds[("control", "AN")] == TINY_CONTROL
    assert seeds[("full labels", sp.FULL_LABEL_METHOD)] == TINY_SWEEP
    for column in ("mAP_class", "micro-F1@0.75", "macro-F1@0.5"):
        assert table[column].between(0, 100).all()
        assert all(len(boot) == RESAMPLES for boot in table[column + "_boot"])


@pytest.mark.parametrize("name", ["digits", "yeast", SCENES_NAME])
def test_tiny_chapter_claims_are_decided_from_their_intervals(tiny_chapter, name):
    claims = [c for c in tiny_chapter["claims"] if c.dataset == name]
    classes = {"digits": 10, "yeast": 14, SCENES_NAME: 80}[name]
    assert len(claims) == 20
    for claim in claims:
        assert claim.kind in KINDS and claim.verdict in VERDICTS and claim.classes == classes
        assert claim.verdict == decide(claim.kind, claim.ci_low, claim.ci_high, claim.margin)
        assert claim.ci_low <= claim.effect <= claim.ci_high or math.isinf(claim.ci_low)
        assert claim.link in sp.LINKS.values() and "nan" not in claim.paper.lower()
        assert claim.claim.startswith(f"{name}: ")
    kinds = [c.kind for c in claims]
    assert kinds.count("control") == 1 and kinds.count("mechanism") == 9 and kinds.count("greater") == 10
    control = next(c for c in claims if c.kind == "control")
    assert "AN (seeds 0-2) vs AN (seeds 100-102)" in control.claim and control.seeds == len(TINY_HEADLINE)
    by_text = {c.claim.split(": ", 1)[1]: c for c in claims}
    assert by_text["EM beats AN"].seeds == by_text["APL adds to EM"].seeds == len(TINY_HEADLINE)
    assert [c.seeds for c in claims if "Sec. D" in c.source and c.kind == "greater"] == [len(TINY_SWEEP)] * 4
    figure = [c for c in claims if "Fig." in c.source]
    assert len(figure) == 7 and all(c.kind == "mechanism" and c.seeds >= len(TINY_SWEEP) for c in figure)
    table6 = [c for c in claims if "Table 6" in c.source]
    assert len(table6) == 1 and "50 %" in table6[0].claim and table6[0].seeds == len(TINY_SWEEP)
    assert "VOC 15.66" in table6[0].paper and table6[0].kind == "mechanism"
    assert len(claim_table(claims)) == len(claims)


@pytest.mark.parametrize("page", ["comparison", "f1", "apl", "statistics", "precision", "noise", "per epoch",
                                  "curves", "magnitudes", "figures"])
def test_tiny_chapter_tables_and_figures(tiny_chapter, page):
    pages = tiny_chapter["pages"]
    if page == "comparison":
        assert list(pages[page].index) == ["AN", "DW", "focal", "EM", "EM + APL", sp.FULL_LABEL_METHOD]
        assert not pages[page].isna().any().any()
        assert pages[page].loc["AN", "digits"].endswith(f"({len(TINY_HEADLINE)})")
    elif page == "f1":
        assert pages[page].shape == (3 * len(TINY_DATASETS), 2 * len(sp.F1_THRESHOLDS))
    elif page == "apl":
        assert pages[page].shape == (2 + len(sp.APL_VARIANTS), len(TINY_DATASETS))
        assert pages[page].map(lambda text: text.endswith(f"({len(TINY_SWEEP)})")).all().all()
    elif page == "statistics":
        statistics = pages[page]
        assert len(statistics) == len(TINY_DATASETS) * 2 * len(TINY_HEADLINE)
        assert statistics["unannotated mAP"].between(0, 100).all()
    elif page == "precision":
        precision = pages[page]
        assert len(precision) == len(TINY_DATASETS) * 2 * len(TINY_SWEEP)  # data sets x two kinds x sweep seeds
        assert precision["precision (%)"].between(0, 100).all() and (precision["count"] > 0).all()
        table6 = pages["table6"]
        assert len(table6) == 2 * len(TINY_DATASETS) and table6.xs("negative", level=1)["paper (Table 6, %)"].eq("–").all()
        assert table6.xs("positive", level=1)["paper (Table 6, %)"].str.contains("COCO 15.29").all()
        table, results = tiny_chapter["table"], tiny_chapter["results"]
        first = table.query("dataset == 'digits' and method == @sp.POSITIVE and seed == 0")["run_key"].item()
        made = results[first].records["positive_labels_added"].sum()
        assert precision.query("dataset == 'digits' and seed == 0 and `pseudo-labels` == 'positive'")[
            "count"].item() == made
    elif page == "noise":
        assert pages[page]["wrong share"].between(0, 1).all()
    elif page == "per epoch":
        per_epoch = pages[page]
        assert per_epoch.query("method == 'EM + APL' and `pseudo-labels` == 'positive'")["added"].eq(0).all()
        sp.plot_apl_precision(per_epoch)
    elif page == "curves":
        curves = pages[page]
        assert curves["epoch"].min() == 0 and set(curves["seed"]) == set(TINY_SWEEP)
        sp.plot_positive_loss(curves)
    elif page == "magnitudes":
        assert set(pages[page]["entries"]) == {"unannotated positive", "unannotated negative"}
        sp.plot_logit_magnitudes(pages[page])
    else:
        assert pages["probabilities"]["probability"].between(0, 1).all()
        assert set(pages["densities"]["class"]) == {"0", "1"}
        assert pages["shares"].seeds == TINY_HEADLINE and pages["shares"].replicates.shape[0] == len(TINY_HEADLINE)
        assert list(pages["hidden"]["source"]).count("ours") == len(TINY_DATASETS) and len(pages["settings"]) == len(TINY_DATASETS)
        sp.plot_positive_probabilities(pages["probabilities"])
        sp.plot_probability_densities(pages["densities"])
        data = sp.chapter_data("digits", "book")
        sp.plot_unannotated_proportions(sp.unannotated_proportions(data.train, data.class_names))
