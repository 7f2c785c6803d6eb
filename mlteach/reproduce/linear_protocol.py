"""The 80-class setting shared by the reproduction chapters: a linear classifier on the fixed
features of digit scenes (:mod:`mlteach.data.scene_features`), the papers' frozen-backbone
("LinearInit", first stage) protocol at COCO's label density.

:data:`SCENES` and :data:`SCENES_LONG_TAIL` are builder options for
:func:`mlteach.data.builders.build_dataset` ``("scene features", ...)``; :func:`linear_probe`
is the training configuration every chapter starts from at the given scale.
"""

from __future__ import annotations

from ..data.scenes import COCO_LT_LIKE
from ..train import TrainConfig
from .scale import current_scale

__all__ = ["SCENES", "SCENES_LONG_TAIL", "SCENES_NAME", "SCENES_LONG_TAIL_NAME", "scene_options", "linear_probe"]

#: The data set's name in the chapters' tables and claims.
SCENES_NAME = "scenes (80 classes)"
SCENES_LONG_TAIL_NAME = "scenes, long tail (80 classes)"
#: Balanced digit scenes with 3 objects per image on average (COCO: 2.94 of 80 classes). The
#: splits are sized for the book's time budget: a run costs about as much to score on its test
#: resamples as to train.
SCENES = dict(n_train=2000, n_val=1000, n_test=1000, mean_objects=3.0)
#: The COCO-LT-like variant: 1,909 long-tailed training images, balanced validation and test.
SCENES_LONG_TAIL = dict(COCO_LT_LIKE, n_val=1000, n_test=1000)
_FULL = dict(n_train=20000, n_val=2000, n_test=5000, source="mnist5k")


def scene_options(long_tail: bool = False, scale: str | None = None) -> dict:
    """Builder options of the balanced or long-tailed scenes at ``scale`` (full: MNIST digits,
    five times the images; the long-tailed training split keeps COCO-LT's 1,909 images)."""
    scale = scale or current_scale()
    options = dict(SCENES_LONG_TAIL if long_tail else SCENES)
    if scale == "full":
        options.update({key: value for key, value in _FULL.items() if not (long_tail and key == "n_train")})
    return options


def linear_probe(scale: str | None = None, **overrides) -> TrainConfig:
    """A linear classifier (``mlp`` without hidden layers) trained with Adam on a cosine schedule:
    8 epochs at book scale, 25 at full scale (LL supplement, Sec. A: "LinearInit" trains 25
    epochs with the backbone frozen); ``overrides`` replace any field.

    Adam makes a linear head blind to a constant per-class loss weight (each class's weights see
    only that class's loss, and Adam rescales every parameter's step by its own gradients), so
    a chapter that compares re-weighted losses overrides the optimiser (chapter 3 uses the DR
    paper's SGD)."""
    scale = scale or current_scale()
    epochs = {"book": 8, "full": 25}[scale]
    base = TrainConfig(model="mlp", model_kwargs={"hidden": ()}, epochs=epochs, lr=1e-2, batch_size=64,
                       eval_splits=("val",), progress=False)
    return base.replace(**overrides)
