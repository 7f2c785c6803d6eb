"""Pascal VOC loader on tiny XML fixtures."""

import pytest

from mlteach.data.loaders import AnnotationFileError, load_voc
from mlteach.data.loaders.voc import VOC_CLASSES


def _annotation(*objects):
    parts = "".join(f"<object><name>{name}</name><difficult>{int(hard)}</difficult></object>"
                    for name, hard in objects)
    return f"<annotation><filename>x.jpg</filename>{parts}</annotation>"


@pytest.fixture
def devkit(tmp_path):
    base = tmp_path / "VOCdevkit" / "VOC2007"
    (base / "ImageSets" / "Main").mkdir(parents=True)
    (base / "Annotations").mkdir()
    (base / "ImageSets" / "Main" / "trainval.txt").write_text("000001\n000002\n000003\n")
    (base / "Annotations" / "000001.xml").write_text(_annotation(("dog", False), ("person", True)))
    (base / "Annotations" / "000002.xml").write_text(_annotation(("cat", True), ("cat", False), ("cat", True)))
    (base / "Annotations" / "000003.xml").write_text(_annotation())
    return tmp_path / "VOCdevkit"


def _row(listing, index):
    return {VOC_CLASSES[c]: v for c, v in enumerate(listing.labels[index].tolist()) if v != 0}


def test_labels_paths_and_difficult_objects(devkit):
    listing = load_voc(devkit, year="2007", image_set="trainval")
    assert len(listing) == 3 and listing.class_names == VOC_CLASSES
    assert listing.paths[0] == devkit / "VOC2007" / "JPEGImages" / "000001.jpg"
    assert _row(listing, 0) == {"dog": 1.0, "person": -1.0}
    assert _row(listing, 1) == {"cat": 1.0}  # one non-difficult cat is enough
    assert _row(listing, 2) == {}
    assert _row(load_voc(devkit, difficult="positive"), 0) == {"dog": 1.0, "person": 1.0}
    assert _row(load_voc(devkit, difficult="negative"), 0) == {"dog": 1.0}


def test_malformed_xml_names_the_file(devkit):
    bad = devkit / "VOC2007" / "Annotations" / "000002.xml"
    bad.write_text("<annotation><object><name>cat</name>")
    with pytest.raises(AnnotationFileError, match=r"000002\.xml: expected a VOC annotation"):
        load_voc(devkit)


def test_unknown_class_and_bad_difficult_flag(devkit):
    (devkit / "VOC2007" / "Annotations" / "000003.xml").write_text(_annotation(("unicorn", False)))
    with pytest.raises(AnnotationFileError, match=r"000003\.xml.*'unicorn'"):
        load_voc(devkit)
    (devkit / "VOC2007" / "Annotations" / "000003.xml").write_text(
        "<annotation><object><name>dog</name><difficult>yes</difficult></object></annotation>")
    with pytest.raises(AnnotationFileError, match="<difficult> 0 or 1"):
        load_voc(devkit)


def test_entity_expansion_is_refused(devkit):
    (devkit / "VOC2007" / "Annotations" / "000001.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "dog">]><annotation><object><name>&e;</name>'
        "</object></annotation>")
    with pytest.raises(AnnotationFileError, match=r"000001\.xml"):
        load_voc(devkit)


def test_missing_files_are_named(devkit):
    (devkit / "VOC2007" / "Annotations" / "000003.xml").unlink()
    with pytest.raises(FileNotFoundError, match=r"000003\.xml: file not found"):
        load_voc(devkit)
    with pytest.raises(FileNotFoundError, match=r"test\.txt: file not found; expected one image id per line"):
        load_voc(devkit, image_set="test")
    with pytest.raises(ValueError, match="difficult"):
        load_voc(devkit, difficult="maybe")


@pytest.mark.parametrize("ids, message", [
    ("000001\n../../../elsewhere/x\n", r"trainval\.txt: .*line 2 names '\.\./\.\./\.\./elsewhere/x\.xml'"),
    ("000001\n000002\n000001\n", r"trainval\.txt: .*image id '000001' appears at line 1 and again at line 3"),
])
def test_ids_leaving_the_devkit_or_repeated_are_refused(devkit, ids, message):
    (devkit / "VOC2007" / "ImageSets" / "Main" / "trainval.txt").write_text(ids)
    with pytest.raises(AnnotationFileError, match=message):
        load_voc(devkit)


def test_missing_images_are_found_when_asked(devkit):
    with pytest.raises(FileNotFoundError, match=r"000001\.jpg: image file not found \(entry 0\); 3 of 3"):
        load_voc(devkit, check_images=True)
