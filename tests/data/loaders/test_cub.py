"""CUB-200-2011 attribute loader on tiny official-layout files."""

import pytest
import torch

from mlteach.data.loaders import AnnotationFileError, load_cub_attributes


@pytest.fixture
def cub(tmp_path):
    root = tmp_path / "CUB_200_2011"
    (root / "attributes").mkdir(parents=True)
    (tmp_path / "attributes.txt").write_text("1 has_bill_shape::curved\n2 has_wing_color::blue\n3 has_size::small\n")
    (root / "images.txt").write_text("1 001.Albatross/a.jpg\n2 001.Albatross/b.jpg\n3 002.Auklet/c.jpg\n")
    (root / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n")
    (root / "attributes" / "image_attribute_labels.txt").write_text(
        "1 1 1 3 27.7\n1 2 0 3 5.2\n1 3 1 4 0 9.1\n"  # the last line has the official file's extra field
        "2 1 0 1 3.0\n2 2 1 2 3.0\n2 3 0 2 3.0\n"
        "3 1 0 2 1.0\n3 3 1 4 2.0\n")  # attribute 2 of image 3 is not listed
    return root


def test_train_and_test_splits(cub):
    train = load_cub_attributes(cub, split="train")
    assert train.class_names == ["has_bill_shape::curved", "has_wing_color::blue", "has_size::small"]
    assert train.paths == [cub / "images" / "001.Albatross" / "a.jpg", cub / "images" / "002.Auklet" / "c.jpg"]
    assert torch.equal(train.labels, torch.tensor([[1.0, 0.0, 1.0], [0.0, -1.0, 1.0]]))
    test = load_cub_attributes(cub, split="test")
    assert test.meta["image_ids"] == [2] and test.labels.tolist() == [[0.0, 1.0, 0.0]]


def test_attribute_names_inside_the_folder_are_found(cub):
    (cub.parent / "attributes.txt").rename(cub / "attributes" / "attributes.txt")
    assert len(load_cub_attributes(cub).class_names) == 3


def test_malformed_lines_are_reported(cub):
    path = cub / "attributes" / "image_attribute_labels.txt"
    path.write_text("1 1 yes 3 1.0\n")
    with pytest.raises(AnnotationFileError, match=r"image_attribute_labels\.txt: expected .*'1 1 yes 3 1.0'"):
        load_cub_attributes(cub)
    path.write_text("1 7 1 3 1.0\n")
    with pytest.raises(AnnotationFileError, match="attribute 7"):
        load_cub_attributes(cub)
    (cub / "images.txt").write_text("1 a.jpg\n")
    with pytest.raises(AnnotationFileError, match=r"train_test_split\.txt.*line 2 names image 2"):
        load_cub_attributes(cub)


def test_missing_attribute_names_name_both_places(cub):
    (cub.parent / "attributes.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"attributes\.txt or .*attributes\.txt: file not found"):
        load_cub_attributes(cub)


@pytest.mark.parametrize("name, text, message", [
    ("train_test_split.txt", "1 1\n2 2\n3 1\n", r"train_test_split\.txt: .*line 2 has the split flag '2'"),
    ("train_test_split.txt", "1 1\n1 0\n3 1\n", r"train_test_split\.txt: .*id 1 appears at line 1 and again at line 2"),
    ("images.txt", "1 a.jpg\n1 b.jpg\n3 c.jpg\n", r"images\.txt: .*id 1 appears at line 1 and again at line 2"),
    ("images.txt", "1 a.jpg\n2 ../../../x.jpg\n3 c.jpg\n", r"images\.txt: .*line 2 names '\.\./\.\./\.\./x\.jpg'"),
    ("images.txt", "1 a.jpg\n\u00b2 b.jpg\n3 c.jpg\n", r"images\.txt: .*line 2 is"),
    ("attributes/image_attribute_labels.txt", "1 1 1 3 1.0\n3 1 0 2 1.0\n1 1 0 3 1.0\n",
     r"image_attribute_labels\.txt: .*lines 1 and 3 label the same pair"),
])
def test_bad_split_flags_duplicates_and_escaping_paths_are_refused(cub, name, text, message):
    (cub / name).write_text(text)
    with pytest.raises(AnnotationFileError, match=message):
        load_cub_attributes(cub)


def test_missing_images_are_found_when_asked(cub):
    with pytest.raises(FileNotFoundError, match=r"001\.Albatross/a\.jpg: image file not found \(entry 0\); 2 of 2"):
        load_cub_attributes(cub, check_images=True)
