"""MS-COCO 2014 / 2017 (Lin et al.): 80 object classes from the instances JSON.

Expected layout::

    root/annotations/instances_{train,val}{2014,2017}.json
    root/{train,val}{2014,2017}/<file_name>

A class is present in an image when the image has at least one instance annotation of it,
crowd annotations (``iscrowd = 1``) included. Classes are ordered by category id (the usual
80-column order). Images without any annotation are kept, with all labels 0; the
single-positive benchmark drops them, which a caller does with ``labels.sum(1) > 0``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlteach.data.loaders.listing import (AnnotationFileError, ImageListing, path_inside, read_json,
                                          require_file, require_unique)

EXPECTED = 'a COCO instances file: {"images": [{"id", "file_name"}], "annotations": ' \
           '[{"image_id", "category_id"}], "categories": [{"id", "name"}]}'


def _records(content, section: str, path: Path) -> list:
    records = content.get(section) if isinstance(content, dict) else None
    if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
        raise AnnotationFileError(path, EXPECTED, f"{section!r} is missing or is not a list of objects")
    return records


def _field(record: dict, key: str, kind: type, where: str, path: Path):
    """``record[key]`` if it is of ``kind`` (an int must be a JSON integer: not 1.7, not true)."""
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AnnotationFileError(path, EXPECTED, f"{where}.{key} is {value!r}, expected "
                                                  f"{'an integer' if kind is int else 'a string'}")
    return value


def load_coco(root: str | Path, year: str = "2014", split: str = "train", check_images: bool = False) -> ImageListing:
    """Image paths and 80-class labels of one COCO split (see the module docstring).

    Duplicate image or category ids, ids that are not integers and file names leaving the image
    folder raise :class:`AnnotationFileError` naming the entry; ``check_images`` also requires
    every image file to exist."""
    root = Path(root)
    path = require_file(root / "annotations" / f"instances_{split}{year}.json", EXPECTED)
    content = read_json(path, EXPECTED)
    folder = root / f"{split}{year}"
    images = [(_field(image, "id", int, f"images[{i}]", path),
               path_inside(folder, _field(image, "file_name", str, f"images[{i}]", path), path, f"images[{i}]"))
              for i, image in enumerate(_records(content, "images", path))]
    categories = [(_field(c, "id", int, f"categories[{i}]", path), _field(c, "name", str, f"categories[{i}]", path))
                  for i, c in enumerate(_records(content, "categories", path))]
    pairs = [(_field(a, "image_id", int, f"annotations[{i}]", path),
              _field(a, "category_id", int, f"annotations[{i}]", path))
             for i, a in enumerate(_records(content, "annotations", path))]
    require_unique(((image_id, f"images[{i}]") for i, (image_id, _) in enumerate(images)), path, "image id")
    require_unique(((category_id, f"categories[{i}]") for i, (category_id, _) in enumerate(categories)), path,
                   "category id")
    categories.sort()
    row_of = {image_id: row for row, (image_id, _) in enumerate(images)}
    column_of = {category_id: column for column, (category_id, _) in enumerate(categories)}
    unknown = [(i, c) for i, c in pairs if i not in row_of or c not in column_of]
    if unknown:
        raise AnnotationFileError(path, EXPECTED, f"an annotation refers to image {unknown[0][0]} / "
                                                  f"category {unknown[0][1]}, which the file does not list")
    labels = torch.zeros(len(images), len(categories))
    labels[[row_of[i] for i, _ in pairs], [column_of[c] for _, c in pairs]] = 1.0
    listing = ImageListing([image_path for _, image_path in images], labels, [name for _, name in categories],
                           meta={"year": year, "split": split, "image_ids": [i for i, _ in images]})
    if check_images:
        listing.require_images()
    return listing
