"""Fixed features of digit scenes: 512 label-free numbers per image that bind each digit to its
ink within a cell, ignore where the cell is, and make a linear classifier COCO-like (80 classes)."""

import dataclasses

import pytest
import torch

from mlteach.data import make_digit_mosaics
from mlteach.data.builders import build_dataset
from mlteach.data.scene_features import RGB_CORNERS, make_scene_features, scene_features
from mlteach.data.scenes import INKS, make_digit_scenes


@pytest.fixture(scope="module")
def scenes():
    return make_digit_scenes(n_train=300, n_val=60, n_test=60)


def _with_pixels(data, split, pixels):
    """``data`` with ``split``'s raw [0, 1] pixels replaced (re-standardised as the builder does)."""
    meta = data.meta
    changed = dataclasses.replace(getattr(data, split), inputs=(pixels - meta["pixel_mean"]) / meta["pixel_std"])
    return dataclasses.replace(data, **{split: changed})


def _cells(pixels):
    """[3, 24, 24] -> list of 9 cell views [3, 8, 8] (row-major)."""
    return [pixels[:, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] for r in range(3) for c in range(3)]


def test_shape_scaling_and_metadata(scenes):
    features = scene_features(scenes)
    assert tuple(features.train.inputs.shape) == (300, 512) and tuple(features.test.inputs.shape) == (60, 512)
    assert abs(float(features.train.inputs.mean())) < 1e-4 and abs(float(features.train.inputs.std()) - 1) < 1e-4
    assert torch.equal(features.train.targets, scenes.train.targets)
    assert features.class_names == scenes.class_names and "fixed features" in features.meta["description"]
    assert features.meta["class_counts"] == scenes.meta["class_counts"]


def test_features_never_read_a_label(scenes):
    relabelled = dataclasses.replace(scenes, train=dataclasses.replace(
        scenes.train, targets=1 - scenes.train.targets, true_targets=1 - scenes.train.true_targets))
    assert torch.equal(scene_features(relabelled).train.inputs, scene_features(scenes).train.inputs)


def test_moving_cells_keeps_the_features_and_swapping_inks_changes_them(scenes):
    meta, train = scenes.meta, scenes.train
    pixels = train.inputs * meta["pixel_std"] + meta["pixel_mean"]
    cells = train.extra["cell_labels"]
    image = next(i for i in range(len(cells)) if len({int(c) // 10 for c in cells[i] if c >= 0}) >= 2)
    occupied = [c for c in range(9) if cells[image, c] >= 0]
    a, b = next((a, b) for a in occupied for b in occupied if cells[image, a] // 10 != cells[image, b] // 10)
    base = scene_features(scenes).train.inputs[image]

    moved = pixels.clone()
    blank = next((c for c in range(9) if cells[image, c] < 0), None)
    source, target = _cells(pixels[image]), _cells(moved[image])
    if blank is None:  # a full grid: swap two cells instead
        target[a].copy_(source[b]), target[b].copy_(source[a])
    else:
        target[blank].copy_(source[a]), target[a].zero_()
    assert torch.allclose(scene_features(_with_pixels(scenes, "train", moved)).train.inputs[image], base, atol=1e-5)

    swapped = pixels.clone()
    target = _cells(swapped[image])
    gray_a, gray_b = source[a].amax(0), source[b].amax(0)
    ink_a, ink_b = (source[a].sum((1, 2)) / gray_a.sum()), (source[b].sum((1, 2)) / gray_b.sum())
    target[a].copy_(gray_a * ink_b[:, None, None]), target[b].copy_(gray_b * ink_a[:, None, None])
    assert not torch.allclose(scene_features(_with_pixels(scenes, "train", swapped)).train.inputs[image], base,
                              atol=1e-2)


def test_every_ink_has_its_own_code():
    inks = torch.tensor(list(INKS.values()))
    code = torch.exp(-torch.cdist(inks, RGB_CORNERS) ** 2 / (2 * 0.35 ** 2))
    # eight inks, eight linearly independent codes: a linear score can single out any one ink
    assert torch.linalg.matrix_rank(code.double()) == 8


def test_bad_input_is_refused(scenes):
    with pytest.raises(ValueError, match="needs digit scenes"):
        scene_features(make_digit_mosaics(n_train=20, n_val=10, n_test=10))
    with pytest.raises(ValueError, match="ink_width must be > 0"):
        scene_features(scenes, ink_width=0.0)


def test_the_builder_name_gives_the_same_data():
    options = dict(n_train=40, n_val=10, n_test=10, long_tail=True)
    assert torch.equal(build_dataset("scene features", **options).train.inputs, make_scene_features(**options).train.inputs)


def test_features_do_not_depend_on_the_thread_count(scenes):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = scene_features(scenes).train.inputs
        torch.set_num_threads(2)
        two = scene_features(scenes).train.inputs
    finally:
        torch.set_num_threads(threads)
    assert one.dtype == torch.float32 and torch.equal(one, two)
