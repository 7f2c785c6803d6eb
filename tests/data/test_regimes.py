"""Label regimes: hidden fractions, one positive per sample, true labels untouched."""

import pytest
import torch

from mlteach.data.mosaics import make_digit_mosaics
from mlteach.data.regimes import (annotation_groups, apply_full, apply_partial, apply_single_positive, label_statistics,
                                  label_statistics_table)
from mlteach.data.splits import LabelledSplit, MultiLabelData


@pytest.fixture(scope="module")
def mosaics():
    return make_digit_mosaics(n_train=2000, n_val=100, n_test=100, seed=0)


def _split(targets, true_targets=None):
    targets = torch.as_tensor(targets, dtype=torch.float32)
    truth = targets.clamp(min=0) if true_targets is None else torch.as_tensor(true_targets, dtype=torch.float32)
    return LabelledSplit(torch.arange(len(targets), dtype=torch.float32)[:, None], targets, truth,
                         extra={"id": torch.arange(len(targets))})


def _data(train):
    return MultiLabelData(train, _split([[1.0, 0.0]]), _split([[0.0, 1.0]]), class_names=["a", "b"])


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_partial_hides_a_fraction_q(mosaics, q):
    data = apply_partial(mosaics, q=q, seed=1)
    hidden = data.train.targets == -1
    assert abs(float(hidden.float().mean()) - q) < 0.01  # 20,000 entries: 4 standard deviations
    # positives and negatives are hidden alike
    truth = data.train.true_targets
    assert abs(float(hidden[truth == 1].float().mean()) - q) < 0.03
    visible = ~hidden
    assert torch.equal(data.train.targets[visible], truth[visible])
    assert torch.equal(truth, mosaics.train.true_targets)
    assert torch.equal(data.test.targets, mosaics.test.targets)
    assert data.meta["regimes"][-1] == {"regime": "partial", "q": q, "seed": 1, "splits": ["train"]}


def test_partial_extremes_seeds_and_split_choice(mosaics):
    assert torch.equal(apply_partial(mosaics, q=0.0).train.targets, mosaics.train.targets)
    assert bool((apply_partial(mosaics, q=1.0).train.targets == -1).all())
    same = [apply_partial(mosaics, q=0.3, seed=7).train.targets for _ in range(2)]
    assert torch.equal(*same)
    assert not torch.equal(same[0], apply_partial(mosaics, q=0.3, seed=8).train.targets)
    both = apply_partial(mosaics, q=0.3, splits=("train", "val"))
    assert bool((both.val.targets == -1).any()) and torch.equal(both.test.targets, mosaics.test.targets)
    with pytest.raises(ValueError):
        apply_partial(mosaics, q=1.5)
    with pytest.raises(ValueError):
        apply_partial(mosaics, q=0.5, splits="train")


def test_single_positive_keeps_exactly_one_true_positive(mosaics):
    data = apply_single_positive(mosaics, seed=2)
    targets, truth = data.train.targets, data.train.true_targets
    assert torch.equal((targets == 1).sum(dim=1), torch.ones(len(targets), dtype=torch.long))
    assert bool(((targets == 1) | (targets == -1)).all())
    assert bool((truth[targets == 1] == 1).all())
    assert torch.equal(truth, mosaics.train.true_targets)
    assert torch.equal(data.val.targets, mosaics.val.targets)
    assert data.meta["single_positive_dropped"] == {"train": 0}


def test_single_positive_chooses_uniformly():
    data = apply_single_positive(_data(_split([[1.0, 1.0]] * 4000)), seed=0)
    share_of_first = float((data.train.targets[:, 0] == 1).float().mean())
    assert abs(share_of_first - 0.5) < 0.03
    rows = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]] * 4000)
    chosen = apply_single_positive(MultiLabelData(_split(rows), _split(rows[:1]), _split(rows[:1]),
                                                  class_names=list("abcde")), seed=3).train.targets == 1
    assert torch.allclose(chosen.float().mean(dim=0), torch.tensor([0.25, 0.25, 0.25, 0.25, 0.0]), atol=0.03)


def test_single_positive_drops_samples_without_a_positive_with_their_extras():
    train = _split([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    data = apply_single_positive(_data(train))
    assert data.meta["single_positive_dropped"] == {"train": 2}
    assert data.train.extra["id"].tolist() == [0, 2]
    assert data.train.inputs.flatten().tolist() == [0.0, 2.0]
    assert data.train.targets.tolist() == [[1.0, -1.0], [-1.0, 1.0]]


def test_regimes_compose_and_full_restores(mosaics):
    partial = apply_partial(mosaics, q=0.5, seed=0)
    single = apply_single_positive(partial, seed=0)
    # the kept positive is one the partial regime left visible
    kept = single.train.targets == 1
    visible_positive = partial.train.targets[partial.train.targets.eq(1).any(dim=1)] == 1
    assert bool(visible_positive[kept].all())
    assert single.meta["single_positive_dropped"]["train"] == int((~partial.train.targets.eq(1).any(dim=1)).sum())
    restored = apply_full(partial)
    assert torch.equal(restored.train.targets, mosaics.train.true_targets)
    assert [r["regime"] for r in restored.meta["regimes"]] == ["partial", "full"]


def test_label_statistics_counts():
    split = _split([[1.0, -1.0, 0.0], [-1.0, -1.0, 1.0]], true_targets=[[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    stats = label_statistics(split)
    assert stats == {
        "images": 2, "classes": 3,
        "known positives per image": 1.0, "known negatives per image": 0.5,
        "unknown labels per image": 1.5, "unknown fraction": 0.5,
        "true positives per image": 2.0, "hidden positives per image": 1.0,
        "images without a known positive": 0,
    }


def test_label_statistics_table_has_one_column_per_dataset(mosaics):
    table = label_statistics_table({"full": mosaics, "single": apply_single_positive(mosaics)})
    assert list(table.columns) == ["full", "single"]
    assert table.loc["training images", "full"] == 2000 and isinstance(table.loc["classes", "full"], int)
    assert table.loc["unknown fraction", "single"] == pytest.approx(0.9)
    assert table.loc["true positives per image", "single"] == table.loc["known positives per image", "full"]


def test_a_class_dependent_partial_regime_hides_each_class_at_its_own_rate():
    data = apply_partial(make_digit_mosaics(n_train=3000, n_val=10, n_test=10), q=[0.1 * c for c in range(10)])
    hidden = (data.train.targets == -1).double().mean(0)
    assert torch.allclose(hidden, torch.arange(10, dtype=torch.float64) / 10, atol=0.03)
    assert data.meta["regimes"][-1]["q"] == pytest.approx([0.1 * c for c in range(10)])
    groups = annotation_groups(data.train)
    assert groups == {"G1": [9, 8], "G2": [7, 6], "G3": [5, 4], "G4": [3, 2], "G5": [1, 0]}
    assert annotation_groups(data.train, count=3) == {"G1": [9, 8, 7, 6], "G2": [5, 4, 3], "G3": [2, 1, 0]}


@pytest.mark.parametrize("q", [[0.5] * 9, [0.5] * 9 + [1.5], True, -0.1])
def test_a_partial_regime_refuses_rates_that_are_not_probabilities_per_class(q):
    with pytest.raises(ValueError, match="q must be a probability in \\[0, 1\\] or one per class \\(10\\)"):
        apply_partial(make_digit_mosaics(n_train=20, n_val=10, n_test=10), q=q)


@pytest.mark.parametrize("count", [0, 11, 2.5, True])
def test_annotation_groups_refuse_a_count_outside_one_to_the_classes(count):
    with pytest.raises(ValueError, match="count must be an integer from 1 to the number of classes \\(10\\)"):
        annotation_groups(make_digit_mosaics(n_train=20, n_val=10, n_test=10).train, count=count)
