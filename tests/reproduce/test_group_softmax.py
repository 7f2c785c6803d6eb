"""Chapter 6 reproduction: the single-label digit and ink-digit data, the run plans of both scales, the error
scoring with its test resamples, the claims decided on made-up run tables, and one tiny
end-to-end pass (train, score, decide)."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from mlteach.data.scenes import SCENE_CLASS_NAMES
from mlteach.reproduce import group_softmax as gs
from mlteach.reproduce.claims import KINDS, Claim, decide
from mlteach.reproduce.evaluation import BOOT
from mlteach.reproduce.evidence import image_resamples
from mlteach.reproduce.experiment import CONTROL_SEEDS, HEADLINE_SEEDS, SWEEP_SEEDS
from mlteach.reproduce.scale import SCALES

RESAMPLES = 50


def test_digit_classification_is_single_label_with_fixed_held_out_splits():
    small = gs.digit_classification(num_classes=4, samples_per_class=3)
    large = gs.digit_classification(num_classes=4, samples_per_class=30)
    for data in (small, large):
        for split in (data.train, data.val, data.test):
            assert torch.equal(split.targets.sum(1), torch.ones(len(split)))
            assert split.inputs.shape[1:] == (1, 8, 8)
    assert len(small.train) == 12 and len(large.train) == 120
    assert torch.equal(small.test.extra["digit_ids"], large.test.extra["digit_ids"])
    assert set(small.train.extra["digit_ids"].tolist()) <= set(large.train.extra["digit_ids"].tolist())
    two = gs.digit_classification(num_classes=2)  # class 0's held-out images do not depend on K
    zeros = lambda d: set(d.test.extra["digit_ids"][d.test.targets[:, 0] == 1].tolist())
    assert zeros(two) == zeros(large)
    splits = [set(s.extra["digit_ids"].tolist()) for s in (large.train, large.val, large.test)]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    with pytest.raises(ValueError, match="too few"):
        gs.digit_classification(samples_per_class=500)
    with pytest.raises(ValueError, match="num_classes"):
        gs.digit_classification(num_classes=1)


def test_ink_digits_have_exactly_n_per_class_and_nested_classes_and_splits():
    every = gs.ink_digit_classification(num_classes=80, samples_per_class=3, val_per_class=2, test_per_class=4)
    few = gs.ink_digit_classification(num_classes=5, samples_per_class=3, val_per_class=2, test_per_class=4)
    more = gs.ink_digit_classification(num_classes=5, samples_per_class=6, val_per_class=2, test_per_class=4)
    assert len(every.class_names) == 80 and sorted(every.class_names) == sorted(SCENE_CLASS_NAMES)
    assert few.class_names == every.class_names[:5] == more.class_names
    for data, n in ((every, 3), (few, 3), (more, 6)):
        for split, count in ((data.train, n), (data.val, 2), (data.test, 4)):
            assert torch.equal(split.targets.sum(1), torch.ones(len(split)))  # single-label
            assert split.targets.sum(0).tolist() == [count] * data.test.num_classes  # exactly count per class
            assert split.inputs.shape[1:] == (512,)
    rows = lambda split, name, names: split.inputs[split.targets[:, names.index(name)] == 1]
    for name in few.class_names:  # a class's images depend neither on K nor, held out, on n
        assert torch.equal(rows(few.test, name, few.class_names), rows(every.test, name, every.class_names))
        assert torch.equal(rows(few.test, name, few.class_names), rows(more.test, name, more.class_names))
        assert torch.equal(rows(few.train, name, few.class_names), rows(more.train, name, more.class_names)[:3])
    with pytest.raises(ValueError, match="too few"):
        gs.ink_digit_classification(num_classes=3, samples_per_class=1000)
    with pytest.raises(ValueError, match="num_classes"):
        gs.ink_digit_classification(num_classes=81)


@pytest.mark.parametrize("scale", SCALES)
def test_plans_put_headline_seeds_on_grid_ends_and_controls_on_each_headline_data_set(scale):
    plan = gs.chapter_plan(scale)
    runs = gs.chapter_runs(scale)
    ink = [r for r in runs if r.dataset.startswith("ink digits")]
    runs = [r for r in runs if not r.dataset.startswith("ink digits")]
    assert list(plan.table().columns) == ["setting", scale]
    features = (plan.base.model_kwargs.get("hidden") or plan.base.model_kwargs["widths"])[-1]
    assert plan.groups in plan.group_values and all(features % g == 0 for g in plan.group_values)
    assert plan.base.sampler_kwargs["num_samples"] % plan.base.batch_size == 0
    for name in ("classes", "samples", "grouping", "groups", "control"):
        assert any(r.experiment == name for r in runs), name
    seeds = {}
    for run in runs:
        assert run.config.seed == run.seed and run.config.progress is False
        seeds.setdefault((run.experiment, run.dataset, run.method, run.setting), set()).add(run.seed)
    headline = {gs.dataset_name(k, n) for k, n in plan.headline_settings}
    assert len(headline) == 4
    for (experiment, dataset, method, setting), chosen in seeds.items():
        if experiment == "control":
            assert method == "softmax" and dataset in headline and chosen == set(CONTROL_SEEDS)
        elif experiment in ("classes", "samples"):
            assert chosen == set(HEADLINE_SEEDS if dataset in headline else SWEEP_SEEDS), (dataset, setting)
        else:
            assert chosen == set(SWEEP_SEEDS)
    assert {d for (e, d, _, _) in seeds if e == "control"} == headline
    for run in runs:  # small training sets train for fewer epochs
        k, n = (int(part.split(" = ")[1]) for part in run.dataset.split(", ")[1:])
        assert run.config.epochs == (plan.short_epochs if k * n < plan.short_below else plan.base.epochs)
    distinct = {(r.dataset, str(r.config.to_dict())) for r in runs}
    assert len(distinct) < len(runs)  # the study setting reuses grid runs (softmax is G = 1)
    many = plan.many  # experiment 5: every K of the grid up to all 80 classes, headline seeds at its ends
    assert max(many.class_counts) == gs.NUM_INK_CLASSES and len(many.class_counts) >= 3
    assert many.base.model == "mlp" and many.base.model_kwargs == {"hidden": ()} and many.base.optimizer == "sgd"
    assert 512 % many.groups == 0
    ends = {gs.ink_dataset_name(k, many.samples_per_class) for k in (min(many.class_counts), max(many.class_counts))}
    ink_seeds = {}
    for run in ink:
        assert run.config.seed == run.seed and run.config == many.base.replace(
            seed=run.seed, loss=run.config.loss, loss_kwargs=run.config.loss_kwargs, lr=gs.INK_LR[run.method])
        ink_seeds.setdefault((run.experiment, run.dataset, run.method), set()).add(run.seed)
    assert {d for (_, d, _) in ink_seeds} == {gs.ink_dataset_name(k, many.samples_per_class)
                                                for k in many.class_counts}
    for (experiment, dataset, method), chosen in ink_seeds.items():
        if experiment == "control":
            assert method == "softmax" and dataset in ends and chosen == set(CONTROL_SEEDS)
        else:
            assert experiment == "many classes"
            assert chosen == set(HEADLINE_SEEDS if dataset in ends else SWEEP_SEEDS), dataset
    assert {d for (e, d, _) in ink_seeds if e == "control"} == ends


def test_full_scale_is_larger_than_book_scale():
    book, full = gs.chapter_plan("book"), gs.chapter_plan("full")
    steps = lambda plan: plan.base.epochs * plan.base.sampler_kwargs["num_samples"] // plan.base.batch_size
    assert steps(full) > steps(book)
    assert full.source == "mnist5k" and full.base.model == "resnet"
    with pytest.raises(ValueError, match="scale"):
        gs.chapter_plan("tiny")


def test_paper_tables_and_method_configurations():
    for table in (gs.PAPER_CLASSES, gs.PAPER_SAMPLES):
        assert table.shape == (3, 4) and not table.isna().any().any()
        assert list(table.index) == list(gs.METHODS)
    assert gs.PAPER_CLASSES.loc["type II", 100] == 13.0
    assert gs.PAPER_SAMPLES.loc["type I", 1000] == gs.PAPER_CLASSES.loc["type I", 1000] == 23.3
    base = gs.chapter_plan("book").base
    assert gs.method_config(base, "softmax", 8).loss_kwargs == {}
    assert gs.method_config(base, "type II", 8, "random").loss_kwargs == {"groups": 8, "kind": "II",
                                                                           "grouping": "random"}
    with pytest.raises(ValueError, match="method"):
        gs.method_config(base, "type III", 4)


def test_score_counts_wrong_images_and_resamples_them(monkeypatch):
    data = gs.digit_classification(num_classes=3, samples_per_class=4, test_per_class=10)
    labels = data.test.targets.argmax(1)
    logits = torch.nn.functional.one_hot(labels, 3).float()
    logits[:3] = torch.nn.functional.one_hot((labels[:3] + 1) % 3, 3).float()  # 3 of 30 test images wrong
    monkeypatch.setattr(gs, "evaluation_logits", lambda result, data: {"val": data.val.targets, "test": logits})
    result = type("Result", (), {"config": gs.method_config(gs.chapter_plan("book").base, "type I", 4)})()
    scores = gs.score(result, data)
    assert scores["error"] == pytest.approx(10.0) and scores["val_error"] == 0
    assert (scores["classes"], scores["samples_per_class"], scores["groups"]) == (3, 4, 4)
    resamples = image_resamples(30)
    wrong = np.isin(resamples.numpy(), [0, 1, 2]).mean(axis=1) * 100
    np.testing.assert_allclose(scores["error" + BOOT], wrong)


def fake_runs(edge: float) -> pd.DataFrame:
    """A made-up run table in which every claim of the chapter wins by ``edge`` points of error
    (loses when negative); with the most images type I equals softmax unless ``edge`` < 0, when
    it trails by 5 points; the controls draw the same errors as softmax. The ink digits (K = 10,
    40, 80) repeat experiment 1's pattern: type II's edge is 2 edges at K = 10 and none at 80.

    Seed noise: the i-th method-and-setting adds ``0.001 i^2 w[seed]`` with ``w`` summing to 0
    over the headline, sweep and control seeds alike, so two sides always differ per seed but
    their means differ by exactly the planted effect (with ``edge = 0``: no effect, some noise)."""
    rng = np.random.default_rng(0)
    test_noise = rng.normal(0, 0.2, size=RESAMPLES)
    w = dict(zip(HEADLINE_SEEDS + CONTROL_SEEDS, [1, -1, 0, 1, -1] * 2))
    rows, added = [], itertools.count(1)

    def add(experiment, k, n, method, setting, error, seeds, groups=4, grouping="discriminative", val_error=None,
            name=gs.dataset_name):
        scale = 0.001 * next(added) ** 2
        for seed in seeds:
            value = error + scale * w[seed]
            rows.append({"dataset": name(k, n), "experiment": experiment, "method": method,
                         "setting": setting, "seed": seed, "run_key": f"{experiment}{k}{n}{method}{setting}{seed}",
                         "train_seconds": 1.0, "classes": k, "samples_per_class": n, "groups": groups,
                         "grouping": grouping, "val_error": error if val_error is None else val_error,
                         "error": value, "error" + BOOT: value + test_noise})

    for k, gap in ((3, 2 * edge), (10, 0.0)):  # type II's edge: 2 edges at K = 3, none at K = 10
        add("classes", k, 15, "softmax", f"K = {k}", 10, HEADLINE_SEEDS)
        add("classes", k, 15, "type I", f"K = {k}", 10 - gap, HEADLINE_SEEDS)
        add("classes", k, 15, "type II", f"K = {k}", 10 - gap, HEADLINE_SEEDS)
    add("samples", 10, 5, "softmax", "n = 5", 20, HEADLINE_SEEDS)
    add("samples", 10, 5, "type I", "n = 5", 20 - edge, HEADLINE_SEEDS)
    add("samples", 10, 5, "type II", "n = 5", 20 - 2 * edge, HEADLINE_SEEDS)
    add("samples", 10, 50, "softmax", "n = 50", 5, HEADLINE_SEEDS)
    type_one = 10 if edge < 0 else 5
    add("samples", 10, 50, "type I", "n = 50", type_one, HEADLINE_SEEDS)
    add("samples", 10, 50, "type II", "n = 50", type_one + edge, HEADLINE_SEEDS)
    for method in ("type I", "type II"):
        add("grouping", 10, 15, method, "discriminative", 10 - edge, SWEEP_SEEDS)
        for other in ("contiguous", "random"):
            add("grouping", 10, 15, method, other, 10, SWEEP_SEEDS, grouping=other)
        add("groups", 10, 15, method, "G = 2", 10, SWEEP_SEEDS, groups=2, val_error=12)
        add("groups", 10, 15, method, "G = 4", 10 - edge, SWEEP_SEEDS, val_error=8)
    add("groups", 10, 15, "softmax", "G = 1", 10, SWEEP_SEEDS, groups=1, grouping="none")
    for k, gap, seeds in ((10, 2 * edge, HEADLINE_SEEDS), (40, edge, SWEEP_SEEDS), (80, 0.0, HEADLINE_SEEDS)):
        for method in gs.METHODS:  # the ink digits: as experiment 1, with a sweep point in between
            add("many classes", k, 20, method, f"K = {k}", 30 - (0 if method == "softmax" else gap), seeds,
                name=gs.ink_dataset_name)
        if k != 40:
            add("control", k, 20, "softmax", f"K = {k}", 30, CONTROL_SEEDS, name=gs.ink_dataset_name)
    for k, n, experiment, error in ((3, 15, "classes", 10), (10, 5, "samples", 20), (10, 50, "samples", 5)):
        add("control", k, n, "softmax", f"{'K' if experiment == 'classes' else 'n'} = {k if experiment == 'classes' else n}",
            error, CONTROL_SEEDS)
    return pd.DataFrame(rows)


def chapter_claims(runs: pd.DataFrame) -> list[Claim]:
    return (gs.classes_claims(runs) + gs.samples_claims(runs) + gs.grouping_claims(runs, gs.chapter_plan("book"))
            + gs.groups_claims(runs) + gs.many_classes_claims(runs) + gs.control_claims(runs))


@pytest.mark.parametrize("edge, expected", [(3.0, "holds"), (-3.0, "does not hold"), (0.0, "inconclusive")])
def test_claims_follow_the_numbers(edge, expected):
    found = chapter_claims(fake_runs(edge))
    assert len(found) == 3 + 5 + 4 + 2 + 3 + 5
    for claim in found:
        assert claim.kind in KINDS and claim.chapter == gs.CHAPTER
        assert claim.verdict == decide(claim.kind, claim.ci_low, claim.ci_high, claim.margin)
        assert claim.link.startswith(gs.PAGE + "#") and "nan" not in claim.paper.lower()
        if claim.dataset.startswith("ink digits"):  # counted by label-space size: 10 at the few end, 80 for the trend
            assert claim.link == gs.LINKS["many classes" if claim.kind != "control" else "control"]
            assert claim.classes == (80 if "shrinks" in claim.claim or "K = 80" in claim.dataset else 10), claim
            if expected != "holds" and claim.kind != "control":
                assert "fixed" in claim.note, claim.note
        else:
            assert claim.classes in (3, 10) and claim.dataset.startswith("digits")
        if claim.kind == "control":
            assert claim.verdict == "inconclusive" and claim.seeds == 5 and "seeds 100-104" in claim.claim
            continue
        assert claim.seeds == (5 if "Table B.2" in claim.source else 3), claim.claim
        if claim.kind == "equivalent":
            assert claim.margin == gs.EQUIVALENCE_MARGIN and f"±{gs.EQUIVALENCE_MARGIN:g}" in claim.claim
            if edge:
                assert claim.verdict == expected
            continue
        if "G chosen on validation" in claim.claim:
            assert "G = 4" in claim.claim  # the lower validation error picks G
        assert claim.verdict == expected, claim
        assert (claim.effect > 0) == (edge > 0) or edge == 0
        if expected != "holds":
            assert claim.note, claim


def test_trend_claim_is_the_difference_of_paired_edges():
    runs = fake_runs(3.0)
    for experiment, source, few, many in (("classes", "digits", 3, 10), ("many classes", "ink digits", 10, 80)):
        trend = next(c for c in gs.classes_claims(runs, experiment) if "shrinks" in c.claim)
        edges = gs.edges(runs, experiment).query(f"source == 'ours: {source}' and method == 'type II'")
        assert sorted(edges["x"].unique()) == ([3, 10] if experiment == "classes" else [10, 40, 80])
        assert trend.effect == pytest.approx(edges.query(f"x == {few}")["edge (points)"].mean()
                                             - edges.query(f"x == {many}")["edge (points)"].mean(), abs=1e-3)
        assert trend.effect == pytest.approx(6.0, abs=1e-3)  # 2 x edge at the few end, none at the many end
        assert trend.paper.startswith("edge 2.40 points at 100 classes")
        assert trend.dataset == f"{source}, K = {few} vs K = {many}, n = {15 if experiment == 'classes' else 20}"


def test_tables_put_the_paper_beside_ours():
    runs = fake_runs(3.0)
    beside = gs.paper_beside_ours(runs, "classes")
    assert list(beside.columns[:5]) == ["method", "paper: 100 classes", "paper: 200 classes", "paper: 500 classes",
                                        "paper: 1000 classes"]
    assert beside.set_index("method").loc["type II", "paper: 100 classes"] == "13.0"
    assert list(gs.paper_beside_ours(runs, "samples").columns)[4:] == ["paper: all", "ours: n = 5", "ours: n = 50"]
    assert list(gs.paper_beside_ours(runs, "many classes").columns)[5:] == ["ours: K = 10", "ours: K = 40",
                                                                             "ours: K = 80"]
    assert gs.error_table(runs, "many classes")["K = 40"].str.endswith("(3)").all()
    table = gs.error_table(runs, "grouping")
    assert list(table.columns) == ["method", "discriminative", "contiguous", "random"]
    assert table["random"].str.endswith("(3)").all()
    assert "–" in gs.show(pd.DataFrame({"a": [np.nan]})).to_html()


def test_tiny_chapter_trains_scores_and_decides(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTEACH_RUNS", str(tmp_path))
    book = gs.chapter_plan("book")
    short = dict(epochs=1, batch_size=20, sampler_kwargs={"samples_per_class": 1, "num_samples": 20})
    many = gs.ManyClassPlan("sklearn", book.many.base.replace(**short), groups=4, class_counts=(3, 5, 8),
                            samples_per_class=2, val_per_class=2, test_per_class=3)
    tiny = gs.ChapterPlan("book", "sklearn", book.base.replace(**short),
                          groups=4, class_counts=(3, 10), class_samples=3, samples_per_class=(2, 3),
                          val_per_class=5, test_per_class=10, study=(10, 3), group_values=(2, 4), short_epochs=1,
                          short_below=0, many=many)
    monkeypatch.setattr(gs, "chapter_plan", lambda scale=None: tiny)
    monkeypatch.setattr(gs, "_data", lambda scale, k, n: gs.digit_classification("sklearn", k, n, 5, 10))
    monkeypatch.setattr(gs, "_ink_data", lambda scale, k: gs.ink_digit_classification(k, 2, 2, 3))
    monkeypatch.setattr(gs, "HEADLINE_SEEDS", (0, 1))
    monkeypatch.setattr(gs, "SWEEP_SEEDS", (0, 1))
    monkeypatch.setattr(gs, "CONTROL_SEEDS", (7, 8))
    runs, results = gs.run_all(workers=1)
    assert len(runs) == len(results) and runs["error"].between(0, 100).all()
    assert runs["error" + BOOT].map(len).eq(200).all()
    assert gs.training_seconds(runs) <= runs["train_seconds"].sum()
    assert set(runs.query("experiment == 'many classes'")["classes"]) == {3, 5, 8}
    found = gs.claims()
    assert {c.kind for c in found} == {"greater", "equivalent", "control"}
    assert sum(c.kind == "control" for c in found) == 5  # digits (3, 3), (10, 2), (10, 3); ink digits K = 3, 8
    assert {c.classes for c in found if c.dataset.startswith("ink")} == {3, 8}
