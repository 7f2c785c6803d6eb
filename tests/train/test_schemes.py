"""Every scheme trains a couple of epochs on tiny random data; the label schemes do exactly
what the papers describe; runs repeat bit for bit and come back from the cache untrained."""

import math

import pandas as pd
import pytest
import torch

from mlteach.train import TrainConfig, train
from mlteach.train import trainer as trainer_module
from mlteach.train.trainer import RECORD_COLUMNS, Trainer

QUICK = dict(epochs=2, batch_size=16, progress=False, model_kwargs={"widths": (8, 16)})


def without_timings(records: pd.DataFrame) -> pd.DataFrame:
    return records.drop(columns="seconds")


@pytest.mark.parametrize("changes, regime", [
    ({}, {}),
    ({"loss": "two_way_loss", "optimizer": "sgd", "nesterov": True, "lr": 0.01,
      "classifier_lr_multiplier": 10.0, "grad_clip_norm": 1.0}, {}),
    ({"loss": "dr_loss", "sampler": "class_aware", "sampler_kwargs": {"samples_per_class": 2},
      "warmup_steps": 3, "lr_schedule": "step", "lr_milestones": (1,)}, {}),
    ({"loss": "distribution_balanced_loss", "optimizer": "adamw", "weight_decay": 1e-4}, {}),
    ({"loss": "class_balanced_focal_loss", "loss_kwargs": {"beta": 0.99}}, {}),  # class counts, no num_samples
    ({"loss": "circle_loss", "loss_kwargs": {"gamma": 4.0}}, {}),
    ({"loss": "asymmetric_loss", "augment": "random_crop", "augment_kwargs": {"padding": 1},
      "drop_last": True}, {}),
    ({"scheme": "linear_init", "linear_init_epochs": 2, "linear_init_lr": 1e-2}, {"unknown_rate": 0.5}),
    ({"loss": "large_loss", "loss_kwargs": {"scheme": "LL-R"}, "large_loss_delta_rel": 0.2},
     {"unknown_rate": 0.5}),
    ({"loss": "large_loss", "loss_kwargs": {"scheme": "LL-Ct"}, "large_loss_threshold": (1.0, 0.1)},
     {"unknown_rate": 0.5}),
    ({"loss": "entropy_maximization_loss", "loss_kwargs": {"alpha": 0.1, "beta": 0.5},
      "apl_warmup_epochs": 1}, {"single_positive": True}),
    ({"loss": "group_softmax_loss", "loss_kwargs": {"groups": 2}, "eval_splits": ("train", "val")},
     {"single_label": True}),
    ({"model": "resnet", "model_kwargs": {"widths": (8, 16), "blocks": (1, 1)}}, {}),
])
def test_scheme_trains_and_records(tmp_path, tiny_data, changes, regime):
    config = TrainConfig(**{**QUICK, **changes})
    data = tiny_data(**regime)
    observed = data.train.targets.clone()
    result = train(config, data, runs_dir=tmp_path)

    assert torch.equal(data.train.targets, observed), "the caller's targets were modified"
    records = result.records
    assert list(records.columns) == list(RECORD_COLUMNS)
    phases = 2 if config.scheme == "linear_init" else 1
    assert len(records.query("split == 'train'")) == phases * config.epochs
    assert records.query("split == 'train'")["loss"].map(math.isfinite).all()
    assert 0 <= result.metrics["test_mAP_class"] <= 1
    assert result.model_path.exists() and result.checkpoint_path.exists()
    model = result.load_model()
    assert model(data.test.inputs[:2]).shape == (2, data.train.num_classes)
    if regime.get("single_label"):
        assert 0 <= result.metrics["test_top1"] <= 1
        assert records.query("split == 'train'")["mAP_class"].notna().all()


def test_mlp_on_feature_table(tmp_path, tiny_data):
    data = tiny_data(input_shape=(103,), num_classes=14)
    result = train(TrainConfig(model="mlp", model_kwargs={"hidden": (32,)}, epochs=2, progress=False),
                   data, runs_dir=tmp_path)
    assert result.metrics["epochs_trained"] == 2


def capture_checkpoints(monkeypatch) -> list[dict]:
    """Keep a copy of every checkpoint the trainer writes."""
    states, save = [], trainer_module.save_atomic

    def save_and_keep(state, path):
        if path.name == "checkpoint.pt":
            states.append({"epoch": state["epoch"], **{k: v.clone() for k, v in state["labels"].items()}})
        save(state, path)

    monkeypatch.setattr(trainer_module, "save_atomic", save_and_keep)
    return states


def test_ll_cp_relabels_only_unknown_entries_and_keeps_them(tmp_path, tiny_data, monkeypatch):
    data = tiny_data(unknown_rate=0.6, n_train=96)
    observed = data.train.targets.clone()
    states = capture_checkpoints(monkeypatch)
    config = TrainConfig(**{**QUICK, "epochs": 3}, loss="large_loss", loss_kwargs={"scheme": "LL-Cp"},
                         large_loss_delta_rel=0.05)
    result = train(config, data, runs_dir=tmp_path)

    assert torch.equal(data.train.targets, observed)
    changed_before = torch.zeros_like(observed, dtype=torch.bool)
    for state in states:
        changed = state["targets"] != observed
        assert bool((observed[changed] == -1).all()), "a known entry was modified"
        assert bool((state["targets"][changed] == 1).all()), "relabelled entries must be positive"
        assert bool((changed_before <= changed).all()), "a permanent relabel was undone"
        changed_before = changed
    per_epoch = result.records.query("split == 'train'")["labels_modified"]
    assert (per_epoch > 0).all()
    assert int(changed_before.sum()) == int(per_epoch.sum())
    truly_positive = data.train.true_targets[changed_before] == 1
    precision = result.records.query("split == 'train'")["modified_precision"]
    weighted = float((precision * per_epoch).sum() / per_epoch.sum())
    assert weighted == pytest.approx(float(truly_positive.float().mean()))


def test_ll_r_and_ll_ct_never_change_the_trainer_targets(tmp_path, tiny_data, monkeypatch):
    data = tiny_data(unknown_rate=0.6)
    states = capture_checkpoints(monkeypatch)
    config = TrainConfig(**QUICK, loss="large_loss", loss_kwargs={"scheme": "LL-Ct"},
                         large_loss_delta_rel=0.2)
    result = train(config, data, runs_dir=tmp_path)
    assert all(torch.equal(state["targets"], data.train.targets) for state in states)
    modified = result.records.query("split == 'train'")["labels_modified"].tolist()
    assert modified[0] == 0 and modified[1] > 0  # relative schedule: epoch 1 is plain AN


def test_apl_pseudo_labels_start_at_warmup_and_are_never_revised(tmp_path, tiny_data, monkeypatch):
    data = tiny_data(single_positive=True, n_train=96)
    states = capture_checkpoints(monkeypatch)
    config = TrainConfig(**{**QUICK, "epochs": 4}, loss="entropy_maximization_loss",
                         loss_kwargs={"alpha": 0.1, "beta": 0.5}, apl_warmup_epochs=2, apl_theta=0.9)
    result = train(config, data, runs_dir=tmp_path)

    added = result.records.query("split == 'train'")["labels_modified"].tolist()
    assert math.isnan(added[0]) and all(a > 0 for a in added[1:])
    unknown = data.train.targets == -1
    initial_unknown = unknown.sum(dim=0)
    previous = torch.full_like(data.train.targets, float("nan"))
    for state in states:
        pseudo = state["pseudo_targets"]
        has = ~torch.isnan(pseudo)
        assert bool((has <= unknown).all()), "pseudo-label on a known entry"
        assert bool(((pseudo[has] >= 0) & (pseudo[has] <= 1)).all())
        kept = ~torch.isnan(previous)
        assert torch.equal(pseudo[kept], previous[kept]), "a pseudo-label was revised"
        epochs_applied = max(0, state["epoch"] - config.apl_warmup_epochs + 1)
        quota = (config.apl_theta * initial_unknown / (config.epochs - config.apl_warmup_epochs)).floor()
        assert bool((has.sum(dim=0) <= quota * epochs_applied).all())
        previous = pseudo
    assert int((~torch.isnan(previous)).sum()) == int(sum(added[1:]))


def test_apl_hard_and_positive_variants_label_both_sides_and_record_their_precision(tmp_path, tiny_data,
                                                                                    monkeypatch):
    data = tiny_data(single_positive=True, n_train=96)
    states = capture_checkpoints(monkeypatch)
    config = TrainConfig(**{**QUICK, "epochs": 4}, loss="entropy_maximization_loss",
                         loss_kwargs={"alpha": 0.1, "beta": 0.5}, apl_warmup_epochs=2, apl_theta=0.5,
                         apl_positive_theta=0.3, apl_hard_labels=True)
    result = train(config, data, runs_dir=tmp_path)

    pseudo = states[-1]["pseudo_targets"]
    has = ~torch.isnan(pseudo)
    assert set(pseudo[has].tolist()) == {0.0, 1.0}  # hard targets only, on both sides
    records = result.records.query("split == 'train' and epoch >= 2")
    positives = pseudo == 1
    assert int(positives.sum()) == int(records["positive_labels_added"].sum()) > 0
    assert int(has.sum()) == int(records["labels_modified"].sum())
    weighted = (records["positive_label_precision"] * records["positive_labels_added"]).sum()
    right = data.train.true_targets[positives] == 1
    assert weighted / records["positive_labels_added"].sum() == pytest.approx(float(right.float().mean()))
    truth_agrees = torch.where(positives, data.train.true_targets == 1, data.train.true_targets == 0)[has]
    assert (records["modified_precision"] * records["labels_modified"]).sum() == pytest.approx(
        float(truth_agrees.sum()))

    published = train(config.replace(apl_positive_theta=0.0, apl_hard_labels=False), data, runs_dir=tmp_path)
    assert published.key != result.key
    added = published.records.query("split == 'train' and epoch >= 2")["positive_labels_added"]
    assert added.tolist() == [0, 0, 0]


def test_same_seed_repeats_exactly_and_another_seed_differs(tmp_path, tiny_data):
    data = tiny_data(unknown_rate=0.3)
    config = TrainConfig(**QUICK, deterministic=True, augment="random_crop", augment_kwargs={"padding": 1})
    first = train(config, data, runs_dir=tmp_path / "a")
    second = train(config, data, runs_dir=tmp_path / "b")
    assert not second.from_cache
    pd.testing.assert_frame_equal(without_timings(first.records), without_timings(second.records))
    other = train(config.replace(seed=1), data, runs_dir=tmp_path / "a")
    assert not without_timings(other.records).equals(without_timings(first.records))


def test_cache_hit_returns_identical_records_without_training(tmp_path, tiny_data, monkeypatch):
    data = tiny_data()
    config = TrainConfig(**QUICK)
    first = train(config, data, runs_dir=tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("a training step ran on a cache hit")

    monkeypatch.setattr(Trainer, "train_step", no_training)
    again = train(config.replace(progress=True), data, runs_dir=tmp_path)  # progress is not part of the key
    assert again.from_cache and again.key == first.key
    pd.testing.assert_frame_equal(again.records, first.records)
    assert again.metrics == first.metrics

    changed_data = tiny_data(seed=1)
    with pytest.raises(AssertionError, match="cache hit"):
        train(config, changed_data, runs_dir=tmp_path)
    with pytest.raises(AssertionError, match="cache hit"):
        train(config.replace(lr=2e-3), data, runs_dir=tmp_path)


def test_early_stopping_and_best_epoch_selection(tmp_path, tiny_data):
    config = TrainConfig(**{**QUICK, "epochs": 30}, lr=0.05, early_stopping_patience=2)
    result = train(config, tiny_data(), runs_dir=tmp_path)
    validation = result.records.query("split == 'val'").set_index("epoch")["mAP_class"]
    trained = result.metrics["epochs_trained"]
    assert trained < 30 and trained == validation.index.max()
    best = int(validation.idxmax())
    assert result.metrics["selected_epoch"] == best and trained - best == 2
    assert result.metrics["val_mAP_class"] == pytest.approx(validation[best])


def test_large_loss_objective_ranks_the_losses_once_per_step(monkeypatch):
    """The step's loss and the entries it modified (which LL-Cp relabels) come from one ranking."""
    from mlteach.losses import large_loss, large_loss_selection, partial
    from mlteach.train.objective import Objective

    targets = torch.tensor([[1.0, -1.0, -1.0, 0.0], [-1.0, -1.0, 1.0, -1.0]])
    objective = Objective(TrainConfig(loss="large_loss", loss_kwargs={"scheme": "LL-Cp"}, large_loss_delta_rel=0.25),
                          targets)
    ranked = []
    original = partial._assume_negative_pass
    monkeypatch.setattr(partial, "_assume_negative_pass", lambda *args, **kwargs: ranked.append(1) or original(*args, **kwargs))
    logits = torch.tensor([[0.5, 3.0, -1.0, 0.0], [2.0, 0.1, 1.0, -2.0]], requires_grad=True)
    loss, modified = objective(logits, None, None, targets, None, epoch=2)
    assert len(ranked) == 1
    monkeypatch.undo()
    assert torch.equal(modified, large_loss_selection(logits, targets, rate=0.25)) and modified.any()
    torch.testing.assert_close(loss, large_loss(logits, targets, rate=0.25, scheme="LL-Cp"))
