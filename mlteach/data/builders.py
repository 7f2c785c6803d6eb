"""The data sets the reproduction chapters train on, by name: one place that maps a builder's
name in a chapter's settings to the function that builds it."""

from __future__ import annotations

from mlteach.data.mosaics import make_digit_mosaics
from mlteach.data.scene_features import make_scene_features
from mlteach.data.splits import MultiLabelData
from mlteach.data.yeast import make_yeast

__all__ = ["BUILDERS", "build_dataset"]

#: Builder names of the chapters' settings: digit mosaics (10 classes), the yeast table (14),
#: fixed features of digit scenes (80; the linear protocol, :mod:`mlteach.data.scene_features`).
BUILDERS = {"mosaics": make_digit_mosaics, "yeast": make_yeast, "scene features": make_scene_features}


def build_dataset(builder: str, **options) -> MultiLabelData:
    """``BUILDERS[builder](**options)``.

    >>> build_dataset("scene features", n_train=20, n_val=10, n_test=10).train.inputs.shape
    torch.Size([20, 512])
    >>> build_dataset("cifar")
    Traceback (most recent call last):
    ...
    ValueError: build_dataset: no builder 'cifar'; choose from ['mosaics', 'yeast', 'scene features']
    """
    if builder not in BUILDERS:
        raise ValueError(f"build_dataset: no builder {builder!r}; choose from {list(BUILDERS)}")
    return BUILDERS[builder](**options)
