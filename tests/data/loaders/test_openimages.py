"""OpenImages loader on tiny CSV files: verified positives, verified negatives, unknowns."""

import pytest
import torch

from mlteach.data.loaders import AnnotationFileError, load_openimages


@pytest.fixture
def files(tmp_path):
    classes = tmp_path / "class-descriptions-boxable.csv"
    classes.write_text("/m/01,Cat\n/m/02,Dog\n/m/03,Tree\n")
    labels = tmp_path / "val-annotations-human-imagelabels-boxable.csv"
    labels.write_text("ImageID,Source,LabelName,Confidence\n"
                      "img1,verification,/m/01,1\n"
                      "img1,verification,/m/02,0\n"
                      "img2,crowdsource-verification,/m/03,0\n"
                      "img2,verification,/m/03,1\n"
                      "img2,verification,/m/99,1\n"
                      "img3,verification,/m/99,1\n")
    return labels, classes, tmp_path / "images"


def test_positives_negatives_and_unknowns(files):
    labels_csv, classes_csv, image_dir = files
    listing = load_openimages(labels_csv, classes_csv, image_dir)
    assert listing.class_names == ["Cat", "Dog", "Tree"]
    assert listing.paths == [image_dir / f"img{i}.jpg" for i in (1, 2, 3)]
    assert torch.equal(listing.labels, torch.tensor([[1.0, 0.0, -1.0], [-1.0, -1.0, 1.0], [-1.0, -1.0, -1.0]]))
    assert listing.meta["skipped_rows"] == 2


def test_class_file_with_header(files):
    labels_csv, classes_csv, image_dir = files
    classes_csv.write_text("LabelName,DisplayName\n/m/01,Cat\n/m/02,Dog\n/m/03,Tree\n")
    assert load_openimages(labels_csv, classes_csv, image_dir).class_names == ["Cat", "Dog", "Tree"]


def test_malformed_files_are_named(files):
    labels_csv, classes_csv, image_dir = files
    labels_csv.write_text("ImageID,LabelName\nimg1,/m/01\n")
    with pytest.raises(AnnotationFileError, match=r"imagelabels-boxable\.csv: expected a CSV.*lacks \['Confidence'\]"):
        load_openimages(labels_csv, classes_csv, image_dir)
    labels_csv.write_text("ImageID,Source,LabelName,Confidence\nimg1,v,/m/01,0.5\n")
    with pytest.raises(AnnotationFileError, match="line 2 has Confidence '0.5'"):
        load_openimages(labels_csv, classes_csv, image_dir)
    classes_csv.write_text("/m/01\n")
    with pytest.raises(AnnotationFileError, match=r"class-descriptions-boxable\.csv: expected LabelName,DisplayName"):
        load_openimages(labels_csv, classes_csv, image_dir)
    classes_csv.write_text("/m/01,Cat\n")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.csv: file not found"):
        load_openimages(labels_csv.parent / "nowhere.csv", classes_csv, image_dir)


@pytest.mark.parametrize("which, text, message", [
    ("classes", "/m/01,Cat\n/m/02,Dog\n/m/01,Kitten\n", r"LabelName '/m/01' appears at line 1 and again at line 3"),
    ("classes", "/m/01,Cat\n/m/02,D\x00og\n", r"line 2 holds a NUL byte"),
    ("labels", "ImageID,Source,LabelName,Confidence\nimg1,v,/m/01,1\nimg\x002,v,/m/01,1\n", r"line 3 holds a NUL byte"),
    ("labels", "ImageID,Source,LabelName,Confidence\n../../x,v,/m/01,1\n", r"line 2 names '\.\./\.\./x\.jpg'"),
    ("labels", "ImageID,Source,LabelName,Confidence\nimg1,v,/m/01\n", r"line 2 has 3 fields, the header 4"),
])
def test_duplicate_names_nul_bytes_and_escaping_ids_are_refused(files, which, text, message):
    labels_csv, classes_csv, image_dir = files
    (classes_csv if which == "classes" else labels_csv).write_text(text)
    with pytest.raises(AnnotationFileError, match=message):
        load_openimages(labels_csv, classes_csv, image_dir)


def test_missing_images_are_found_when_asked(files):
    labels_csv, classes_csv, image_dir = files
    image_dir.mkdir()
    for name in ("img1", "img2"):
        (image_dir / f"{name}.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"img3\.jpg: image file not found \(entry 2\); 1 of 3"):
        load_openimages(labels_csv, classes_csv, image_dir, check_images=True)
