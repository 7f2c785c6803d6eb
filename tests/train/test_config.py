"""TrainConfig rejects every inconsistent setting with a ValueError that names the problem."""

import pytest

from mlteach.train import PretrainConfig, TrainConfig
from mlteach.train.optim import learning_rate_factor


@pytest.mark.parametrize("changes, message", [
    ({"loss": "no_such_loss"}, "unknown loss"),
    ({"loss_kwargs": {"no_such_argument": 1}}, "has no argument"),
    ({"loss_kwargs": {"reduction": "sum"}}, "the trainer supplies them"),
    ({"model": "vgg"}, "model must be one of"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": float("nan")}, "lr must be a finite number > 0"),
    ({"weight_decay": -1e-4}, "weight_decay"),
    ({"momentum": 1.0}, "momentum"),
    ({"nesterov": True}, "nesterov needs optimizer='sgd'"),
    ({"classifier_lr_multiplier": 0}, "classifier_lr_multiplier"),
    ({"lr_schedule": "linear"}, "lr_schedule must be one of"),
    ({"lr_schedule": "step"}, "strictly increasing lr_milestones"),
    ({"lr_schedule": "step", "lr_milestones": (5, 3)}, "strictly increasing lr_milestones"),
    ({"lr_milestones": (3,)}, "only used by lr_schedule='step'"),
    ({"warmup_steps": -1}, "warmup_steps"),
    ({"warmup_start_factor": 1.5}, "warmup_start_factor"),
    ({"grad_clip_norm": 0.0}, "grad_clip_norm"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"epochs": 2.5}, "epochs must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size"),
    ({"early_stopping_patience": 0}, "early_stopping_patience"),
    ({"eval_splits": ("test",)}, "keep 'val' in eval_splits"),
    ({"eval_splits": ("val", "holdout")}, "eval_splits entry"),
    ({"sampler": "weighted"}, "sampler must be one of"),
    ({"sampler_kwargs": {"samples_per_class": 2}}, "only used by sampler='class_aware'"),
    ({"sampler": "class_aware", "sampler_kwargs": {"per_class": 2}}, "class-aware sampler takes"),
    ({"augment": "normalise"}, "random batch transform"),
    ({"augment": "random_crop", "augment_kwargs": {"size": 3}}, "has no argument"),
    ({"augment_kwargs": {"padding": 1}}, "without an augment transform"),
    ({"scheme": "two_stage"}, "scheme must be one of"),
    ({"scheme": "linear_init", "freeze_backbone": True}, "already freezes the backbone"),
    ({"loss": "large_loss"}, "exactly one schedule"),
    ({"loss": "large_loss", "large_loss_delta_rel": 0.1, "large_loss_threshold": (2.0, 0.1)},
     "exactly one schedule"),
    ({"loss": "large_loss", "large_loss_delta_rel": 1.5}, "large_loss_delta_rel must lie in"),
    ({"large_loss_delta_rel": 0.1}, "need loss='large_loss'"),
    ({"apl_warmup_epochs": 2}, "takes none"),
    ({"loss": "entropy_maximization_loss", "apl_warmup_epochs": 10, "epochs": 10}, "must be smaller than"),
    ({"loss": "entropy_maximization_loss", "apl_warmup_epochs": 2, "apl_theta": 0.0}, "apl_theta"),
    ({"loss": "entropy_maximization_loss", "apl_warmup_epochs": 2, "apl_positive_theta": 1.5},
     "apl_positive_theta must lie in"),
    ({"loss": "entropy_maximization_loss", "apl_warmup_epochs": 2, "apl_hard_labels": 1}, "must be a bool"),
    ({"loss": "entropy_maximization_loss", "apl_positive_theta": 0.1}, "need apl_warmup_epochs"),
    ({"loss": "entropy_maximization_loss", "apl_hard_labels": True}, "need apl_warmup_epochs"),
    ({"device": "tpu"}, "device must be"),
    ({"amp": "fp8"}, "amp must be one of"),
    ({"model": "mlp", "pretrained": PretrainConfig()}, "the mlp model has none"),
    ({"seed": -1}, "seed"),
])
def test_bad_settings_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**changes)


@pytest.mark.parametrize("changes, message", [
    ({"digits": "emnist"}, "pretrain digits"),
    ({"epochs": 0}, "pretrain epochs"),
    ({"image_size": 2}, "pretrain image_size"),
    ({"lr": -1.0}, "pretrain lr"),
])
def test_bad_pretraining_settings_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        PretrainConfig(**changes)


def test_replace_validates_again():
    with pytest.raises(ValueError, match="lr"):
        TrainConfig().replace(lr=-1.0)


def test_schedules():
    cosine = TrainConfig(epochs=4, lr_schedule="cosine")
    assert learning_rate_factor(0, 10, cosine) == 1.0
    assert learning_rate_factor(20, 10, cosine) == pytest.approx(0.5)
    step = TrainConfig(epochs=4, lr_schedule="step", lr_milestones=(2, 3), lr_gamma=0.1)
    assert [learning_rate_factor(s, 10, step) for s in (9, 10, 19, 20, 30, 39)] == pytest.approx(
        [1, 1, 1, 0.1, 0.01, 0.01])
    warm = TrainConfig(lr_schedule="constant", warmup_steps=4, warmup_start_factor=1 / 3)
    assert [learning_rate_factor(s, 10, warm) for s in range(6)] == pytest.approx(
        [1 / 3, 1 / 2, 2 / 3, 5 / 6, 1, 1])
