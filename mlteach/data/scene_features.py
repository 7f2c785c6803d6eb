"""Fixed features of digit scenes: the linear protocol of the papers, at 80 classes.

Training a CNN on the 80-class digit scenes (:mod:`mlteach.data.scenes`) costs several times
the whole book's CPU budget per chapter. The papers have a cheaper protocol of their own: a
linear classifier on the features of a frozen backbone, the first stage of "LinearInit"
(Large Loss Matters, supplement Sec. A: 25 epochs with the feature extractor frozen; used by
ROLE + LI in the EM paper's Table 1). Here the frozen backbone is a fixed feature map that never
saw a label, so the label space it was "pretrained" on is trivially disjoint from the 80 classes:

- each 8 x 8 cell of a scene gives its intensity pixels ``g`` (64 numbers; every ink has one
  channel at 1, so a pixel's largest channel is the digit's gray value) and its ink
  ``ink = sum of the cell's RGB pixels / sum of g`` (3 numbers, exact for one ink per cell);
- the ink is coded softly by Gaussian bumps at the 8 corners ``c_k`` of the RGB cube,
  ``phi_k = exp(-|ink - c_k|^2 / (2 ink_width^2))``, zero for a blank cell;
- the image's features are the products ``g (x) phi`` summed over its 9 cells: 64 x 8 = 512
  numbers. Which digit is in which ink stays bound within a cell, and every class appears at
  most once per scene, so a sum over cells is a union of objects.

A linear classifier on them is a ``mlp`` with no hidden layer (:class:`mlteach.models.MLP`).
All features are centred and scaled by one mean and one standard deviation of the training
split (per-feature scaling would blow up the pixels that training cells never light).
"""

from __future__ import annotations

import itertools

import torch

from mlteach.data.scenes import make_digit_scenes
from mlteach.data.splits import LabelledSplit, MultiLabelData

__all__ = ["RGB_CORNERS", "scene_features", "make_scene_features"]

#: The 8 corners of the RGB cube, centres of the soft ink code.
RGB_CORNERS = torch.tensor(list(itertools.product((0.0, 1.0), repeat=3)))


def _cell_features(split: LabelledSplit, meta: dict, ink_width: float) -> torch.Tensor:
    # float64 throughout: the features (and so the run cache's data fingerprint) must not depend
    # on how many threads share the sums
    pixels = split.inputs.double() * meta["pixel_std"] + meta["pixel_mean"]  # undo the standardisation: [N, 3, H, W]
    (rows, cols), (height, width) = meta["grid"], meta["cell_size"]
    n = pixels.shape[0]
    cells = (pixels.reshape(n, 3, rows, height, cols, width).permute(0, 2, 4, 1, 3, 5)
             .reshape(n, rows * cols, 3, height * width))
    gray = cells.amax(2)  # [N, cells, pixels]
    mass = gray.sum(2, keepdim=True)
    ink = cells.sum(3) / mass.clamp_min(1e-6)  # [N, cells, 3]
    code = torch.exp(-torch.cdist(ink, RGB_CORNERS.double().expand(n, -1, -1)) ** 2 / (2 * ink_width ** 2)) * (mass > 0)
    return torch.einsum("ncp,nck->npk", gray, code).reshape(n, -1)


def scene_features(data: MultiLabelData, ink_width: float = 0.35) -> MultiLabelData:
    """Digit scenes with each image replaced by its 512 fixed features (module text); targets,
    class names and meta are kept, plus ``meta["features"]``; the per-cell extras are dropped
    (features have no cells to localise).

    >>> from mlteach.data.scenes import make_digit_scenes
    >>> features = scene_features(make_digit_scenes(n_train=40, n_val=10, n_test=10))
    >>> tuple(features.train.inputs.shape), len(features.class_names)
    ((40, 512), 80)
    """
    if "grid" not in data.meta or "cell_size" not in data.meta or tuple(data.train.inputs.shape[1:2]) != (3,):
        raise ValueError("scene_features: needs digit scenes (RGB images, meta with 'grid' and 'cell_size'), "
                         f"got inputs of shape {tuple(data.train.inputs.shape)} and meta keys {sorted(data.meta)}")
    if not ink_width > 0:
        raise ValueError(f"scene_features: ink_width must be > 0, got {ink_width}")
    splits = (data.train, data.val, data.test)
    features = [_cell_features(split, data.meta, ink_width) for split in splits]
    # NumPy's sums do not depend on torch's thread count (torch's parallel sum of millions of
    # numbers changes in the last bits, and so would a few float32 features)
    train = features[0].numpy()
    mean, std = float(train.mean()), float(train.std(ddof=1))
    scaled = [LabelledSplit(((f - mean) / std).float(), s.targets, s.true_targets)
              for f, s in zip(features, splits)]
    meta = {**data.meta, "features": f"512 fixed features (cell pixels x soft ink code, ink width {ink_width:g})",
            "description": f"{data.meta.get('description', 'digit scenes')}, as fixed features"}
    return MultiLabelData(*scaled, class_names=list(data.class_names), meta=meta)


def make_scene_features(ink_width: float = 0.35, **scene_options) -> MultiLabelData:
    """:func:`scene_features` of :func:`~mlteach.data.scenes.make_digit_scenes` ``(**scene_options)``."""
    return scene_features(make_digit_scenes(**scene_options), ink_width)
