"""Digit scenes: 80 ink-digit classes, sparse labels, co-occurrence from scene types, a COCO-LT-like
long tail, disjoint digit pools, and the regime statistics beside the papers'."""

import numpy as np
import pytest
import torch

from mlteach.data.regimes import apply_partial, apply_single_positive
from mlteach.data.scenes import (COCO_LT_LIKE, INKS, PAPER_REGIMES, SCENE_CLASS_NAMES, DigitScenes, coco_lt_profile,
                                 make_digit_scenes, regime_statistics, regime_table)


@pytest.fixture(scope="module")
def scenes():
    return make_digit_scenes(n_train=1500, n_val=200, n_test=300)


def test_classes_are_digits_in_inks_and_labels_match_the_cells(scenes):
    assert len(SCENE_CLASS_NAMES) == 80 and SCENE_CLASS_NAMES[13] == "red 3"
    train = scenes.train
    assert tuple(train.inputs.shape[1:]) == (3, 24, 24)
    cells = train.extra["cell_labels"]
    rebuilt = torch.zeros_like(train.targets)
    for i, row in enumerate(cells):
        rebuilt[i, row[row >= 0]] = 1
    assert torch.equal(rebuilt, train.true_targets)
    # a cell's pixels carry its ink: red digits have no green or blue channel above red's
    pixels = train.inputs * scenes.meta["pixel_std"] + scenes.meta["pixel_mean"]
    image, cell = next((i, c) for i in range(len(cells)) for c in range(9) if 10 <= cells[i, c] < 20)
    top, left = (cell // 3) * 8, (cell % 3) * 8
    patch = pixels[image, :, top:top + 8, left:left + 8]
    ink = torch.tensor(INKS["red"])[:, None, None]
    assert torch.allclose(patch, patch[0:1] * ink / ink[0], atol=1e-5)


def test_labels_are_sparse_and_every_class_occurs(scenes):
    per_image = scenes.train.true_targets.sum(1)
    assert (per_image >= 1).all() and 2.2 < float(per_image.mean()) < 2.8
    assert (scenes.train.true_targets.sum(0) > 0).all()


def test_scene_types_make_classes_co_occur(scenes):
    truth = scenes.train.true_targets.double()
    joint = truth.T @ truth / len(truth)
    marginal = truth.mean(0)
    lift = joint / torch.outer(marginal, marginal)
    off_diagonal = lift[~torch.eye(80, dtype=torch.bool)]
    assert float(off_diagonal.max()) > 3  # some pairs co-occur far more than by chance
    assert float(torch.quantile(off_diagonal[off_diagonal > 0], 0.5)) < 2


def test_splits_share_no_digit_image_and_are_reproducible(scenes):
    ids = {name: set(getattr(scenes, name).extra["digit_ids"].flatten().tolist()) - {-1}
           for name in ("train", "val", "test")}
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    again = make_digit_scenes(n_train=1500, n_val=200, n_test=300)
    assert torch.equal(again.train.inputs, scenes.train.inputs)


def test_long_tailed_variant_is_coco_lt_like():
    profile = coco_lt_profile()
    assert int((profile >= 100).sum()) == 22 and int((profile < 20).sum()) == 25
    data = make_digit_scenes(**COCO_LT_LIKE, n_val=50, n_test=600)
    groups = {name: len(members) for name, members in data.meta["class_groups"].items()}
    assert abs(groups["head"] - 22) <= 3 and abs(groups["medium"] - 33) <= 5 and abs(groups["tail"] - 25) <= 5
    test_counts = data.test.true_targets.sum(0)
    train_counts = torch.tensor(data.meta["class_counts"], dtype=torch.float)
    assert float(train_counts.max() / train_counts.clamp_min(1).min()) > 50  # long-tailed training split
    spread = {name: float(counts.std() / counts.mean()) for name, counts in (("train", train_counts), ("test", test_counts))}
    assert spread["test"] < spread["train"] / 2  # the test split is far less skewed, as on COCO-LT


def test_regimes_reach_the_papers_hidden_positive_shares(scenes):
    single = regime_statistics(apply_single_positive(scenes).train)
    partial = regime_statistics(apply_partial(scenes, q=0.5).train)
    assert 0.015 < single["hidden-positive share of unknown labels"] < 0.05
    assert single["hidden-positive share of unknown labels"] == pytest.approx(
        single["hidden-positive share, single positive"], abs=0.002)
    assert 0.02 < partial["hidden-positive share of unknown labels"] < 0.06
    assert single["class missing from a batch of 32"] > 0.2  # classes go missing from batches, as on COCO
    table = regime_table({"scenes": scenes})
    assert table.loc["classes", "COCO"] == "80" and table.loc["hidden-positive share, single positive", "COCO"] == "0.025"
    assert table.loc["positives per image", "COCO-LT"] == "–"
    assert list(PAPER_REGIMES.columns)[:2] == ["VOC", "COCO"]


@pytest.mark.parametrize("options, message", [(dict(mean_objects=0.5), "mean_objects"),
                                              (dict(typical_classes=0), "typical_classes"),
                                              (dict(typical_weight=0.5), "typical_weight"),
                                              (dict(long_tail=1), "long_tail")])
def test_bad_settings_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        DigitScenes(**options)


def test_a_regime_table_shows_only_the_papers_asked_for_and_refuses_unknown_ones():
    data = {"ours": make_digit_scenes(n_train=200, n_val=20, n_test=20)}
    table = regime_table(data, papers=("VOC-LT", "COCO-LT"))
    assert list(table.columns) == ["ours", "VOC-LT", "COCO-LT"]
    assert table.loc["classes", "COCO-LT"] == "80" and table.loc["positives per image", "VOC-LT"] == "–"
    with pytest.raises(ValueError, match=r"no paper data set \['ImageNet'\]"):
        regime_table(data, papers=("COCO", "ImageNet"))
