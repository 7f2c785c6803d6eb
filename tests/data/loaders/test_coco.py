"""MS-COCO loader on a tiny instances JSON."""

import json

import pytest
import torch

from mlteach.data.loaders import AnnotationFileError, load_coco


def _write(root, content, name="instances_val2017.json"):
    (root / "annotations").mkdir(exist_ok=True)
    (root / "annotations" / name).write_text(json.dumps(content))


@pytest.fixture
def coco(tmp_path):
    _write(tmp_path, {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 5, "file_name": "b.jpg"}, {"id": 9, "file_name": "c.jpg"}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [{"image_id": 1, "category_id": 18}, {"image_id": 1, "category_id": 18},
                        {"image_id": 5, "category_id": 1, "iscrowd": 1}, {"image_id": 5, "category_id": 3}],
    })
    return tmp_path


def test_labels_follow_category_ids_and_keep_unannotated_images(coco):
    listing = load_coco(coco, year="2017", split="val")
    assert listing.class_names == ["person", "car", "dog"]
    assert listing.paths == [coco / "val2017" / name for name in ("a.jpg", "b.jpg", "c.jpg")]
    assert torch.equal(listing.labels, torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    assert listing.meta["image_ids"] == [1, 5, 9]


def test_malformed_json_is_reported_with_the_file(coco):
    (coco / "annotations" / "instances_val2017.json").write_text("{not json")
    message = r"instances_val2017\.json: expected a COCO instances file.*not valid JSON"
    with pytest.raises(AnnotationFileError, match=message):
        load_coco(coco, year="2017", split="val")
    _write(coco, {"images": [], "annotations": []})
    with pytest.raises(AnnotationFileError, match="'categories'"):
        load_coco(coco, year="2017", split="val")
    _write(coco, {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "person"}],
                  "annotations": [{"image_id": 2, "category_id": 1}]})
    with pytest.raises(AnnotationFileError, match="image 2"):
        load_coco(coco, year="2017", split="val")


def test_missing_file_is_named(coco):
    with pytest.raises(FileNotFoundError, match=r"instances_train2014\.json: file not found"):
        load_coco(coco, year="2014", split="train")


def _content(**changes):
    content = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
               "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
               "annotations": [{"image_id": 1, "category_id": 1}, {"image_id": 2, "category_id": 3}]}
    for section, records in changes.items():
        content[section] = records
    return content


@pytest.mark.parametrize("changes, message", [
    ({"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}]},
     r"image id 1 appears at images\[0\] and again at images\[1\]"),
    ({"categories": [{"id": 1, "name": "person"}, {"id": 1, "name": "car"}]},
     r"category id 1 appears at categories\[0\] and again at categories\[1\]"),
    ({"images": [{"id": 1.7, "file_name": "a.jpg"}]}, r"images\[0\]\.id is 1\.7, expected an integer"),
    ({"images": [{"id": True, "file_name": "a.jpg"}]}, r"images\[0\]\.id is True, expected an integer"),
    ({"annotations": [{"image_id": "1", "category_id": 1}]}, r"annotations\[0\]\.image_id is '1'"),
    ({"images": [{"id": 1, "file_name": "../../elsewhere/x.jpg"}]}, r"images\[0\] names '\.\./\.\./elsewhere/x\.jpg'"),
    ({"images": [{"id": 1, "file_name": "/etc/passwd"}]}, r"images\[0\] names '/etc/passwd'"),
])
def test_duplicate_ids_wrong_types_and_escaping_paths_are_refused(tmp_path, changes, message):
    _write(tmp_path, _content(**changes))
    with pytest.raises(AnnotationFileError, match=r"instances_val2017\.json: .*" + message):
        load_coco(tmp_path, year="2017", split="val")


def test_bad_encoding_and_deep_nesting_are_reported_with_the_file(tmp_path):
    (tmp_path / "annotations").mkdir()
    path = tmp_path / "annotations" / "instances_val2017.json"
    path.write_bytes(b'{"images": [],\n "categories": [{"id": 1, "name": "caf\xe9"}]}')
    with pytest.raises(AnnotationFileError, match=r"instances_val2017\.json: .*line 2 is not UTF-8"):
        load_coco(tmp_path, year="2017", split="val")
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(AnnotationFileError, match="nested too deeply"):
        load_coco(tmp_path, year="2017", split="val")


def test_missing_images_are_found_when_asked(tmp_path):
    _write(tmp_path, _content())
    assert len(load_coco(tmp_path, year="2017", split="val")) == 2  # not checked by default
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / "a.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"val2017/b\.jpg: image file not found \(entry 1\); 1 of 2"):
        load_coco(tmp_path, year="2017", split="val", check_images=True)
    (tmp_path / "val2017" / "b.jpg").write_bytes(b"")
    assert len(load_coco(tmp_path, year="2017", split="val", check_images=True)) == 2
