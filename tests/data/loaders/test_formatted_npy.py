"""The single-positive benchmark's formatted_*.npy layout."""

import numpy as np
import pytest
import torch

from mlteach.data.loaders import AnnotationFileError, load_formatted_npy


@pytest.fixture
def root(tmp_path):
    np.save(tmp_path / "formatted_val_images.npy", np.array(["JPEGImages/a.jpg", "JPEGImages/b.jpg"]))
    np.save(tmp_path / "formatted_val_labels.npy", np.array([[1, 0, 1], [0, 1, 0]], dtype=np.int32))
    return tmp_path


def test_paths_labels_and_class_names(root, tmp_path):
    listing = load_formatted_npy(root, split="val", image_dir=tmp_path / "voc")
    assert listing.paths == [tmp_path / "voc" / "JPEGImages" / "a.jpg", tmp_path / "voc" / "JPEGImages" / "b.jpg"]
    assert listing.labels.dtype == torch.float32
    assert torch.equal(listing.labels, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert listing.class_names == ["class_0", "class_1", "class_2"]
    assert load_formatted_npy(root, "val", class_names=["a", "b", "c"]).class_names == ["a", "b", "c"]
    with pytest.raises(ValueError, match="2 class names given for 3"):
        load_formatted_npy(root, "val", class_names=["a", "b"])


def test_malformed_arrays_are_named(root):
    np.save(root / "formatted_val_labels.npy", np.array([[1, 0, 2], [0, 1, 0]]))
    with pytest.raises(AnnotationFileError, match=r"formatted_val_labels\.npy: expected an \[2, C\] array of 0/1"):
        load_formatted_npy(root, "val")
    np.save(root / "formatted_val_labels.npy", np.array([[1, 0, 1]]))
    with pytest.raises(AnnotationFileError, match=r"formatted_val_labels\.npy.*shape \(1, 3\)"):
        load_formatted_npy(root, "val")
    np.save(root / "formatted_val_images.npy", np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)
    with pytest.raises(AnnotationFileError, match=r"formatted_val_images\.npy.*plain \.npy array"):
        load_formatted_npy(root, "val")


def test_missing_split_is_named(root):
    with pytest.raises(FileNotFoundError, match=r"formatted_train_images\.npy: file not found"):
        load_formatted_npy(root, "train")


def test_names_leaving_the_image_folder_are_refused(root, tmp_path):
    np.save(root / "formatted_val_images.npy", np.array(["JPEGImages/a.jpg", "../../b.jpg"]))
    with pytest.raises(AnnotationFileError, match=r"formatted_val_images\.npy: .*entry 1 names '\.\./\.\./b\.jpg'"):
        load_formatted_npy(root, split="val", image_dir=tmp_path / "voc")
