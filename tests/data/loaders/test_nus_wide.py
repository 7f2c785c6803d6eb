"""NUS-WIDE loader on tiny official-layout text files."""

import pytest
import torch

from mlteach.data.loaders import AnnotationFileError, load_nus_wide


@pytest.fixture
def nus(tmp_path):
    (tmp_path / "Concepts81.txt").write_text("airport\nanimal\nbeach\n")
    (tmp_path / "ImageList").mkdir()
    (tmp_path / "ImageList" / "TrainImagelist.txt").write_text(
        "C:\\ImageData\\Flickr\\actor\\0001_2124494179.jpg\nC:\\ImageData\\Flickr\\zebra\\0002_1.jpg\n")
    labels = tmp_path / "Groundtruth" / "TrainTestLabels"
    labels.mkdir(parents=True)
    for concept, values in {"airport": "1\n0\n", "animal": "0\n1\n", "beach": "1 \n1\n"}.items():
        (labels / f"Labels_{concept}_Train.txt").write_text(values)
    return tmp_path


def test_labels_and_paths(nus):
    listing = load_nus_wide(nus, split="train")
    assert listing.class_names == ["airport", "animal", "beach"]
    assert listing.paths == [nus / "Flickr" / "actor" / "0001_2124494179.jpg", nus / "Flickr" / "zebra" / "0002_1.jpg"]
    assert torch.equal(listing.labels, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))


def test_label_file_with_wrong_length_or_value(nus):
    path = nus / "Groundtruth" / "TrainTestLabels" / "Labels_animal_Train.txt"
    path.write_text("0\n1\n1\n")
    with pytest.raises(AnnotationFileError, match=r"Labels_animal_Train\.txt: expected 2 lines.*found 3"):
        load_nus_wide(nus)
    path.write_text("0\n2\n")
    with pytest.raises(AnnotationFileError, match=r"Labels_animal_Train\.txt: expected 0 or 1.*'2'"):
        load_nus_wide(nus)


def test_missing_files_are_named(nus):
    with pytest.raises(FileNotFoundError, match=r"TestImagelist\.txt: file not found"):
        load_nus_wide(nus, split="test")
    (nus / "Groundtruth" / "TrainTestLabels" / "Labels_beach_Train.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"Labels_beach_Train\.txt"):
        load_nus_wide(nus)


def test_paths_leaving_the_image_folder_and_repeated_concepts_are_refused(nus):
    (nus / "ImageList" / "TrainImagelist.txt").write_text("C:\\ImageData\\Flickr\\actor\\a.jpg\n..\\..\\b.jpg\n")
    with pytest.raises(AnnotationFileError, match=r"TrainImagelist\.txt: .*line 2 names '\.\./b\.jpg'"):
        load_nus_wide(nus)
    (nus / "Concepts81.txt").write_text("airport\nanimal\nairport\n")
    with pytest.raises(AnnotationFileError, match="concept 'airport' appears at line 1 and again at line 3"):
        load_nus_wide(nus)
