"""CUB-200-2011 attributes (Wah et al., 2011): 312 binary bird attributes per image.

Expected layout (the official tar file, whose ``attributes.txt`` sits beside the
``CUB_200_2011`` folder; a copy inside ``CUB_200_2011/attributes/`` is found too)::

    attributes.txt                                       "<attribute id> <name>"
    CUB_200_2011/images.txt                              "<image id> <relative path>"
    CUB_200_2011/train_test_split.txt                    "<image id> <1 train | 0 test>"
    CUB_200_2011/attributes/image_attribute_labels.txt   "<image id> <attribute id> <is present> ..."
    CUB_200_2011/images/<relative path>

``root`` is the ``CUB_200_2011`` folder. Only the first three fields of
``image_attribute_labels.txt`` are read (a few lines of the official file carry an extra
field). The annotators' certainty is not used: an attribute is 1 when marked present, else 0.
An (image, attribute) pair the file does not list is -1 (unknown). The EM paper uses these
312 attributes as its CUB classes (Zhou et al., 2022, supplement C.1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mlteach.data.loaders.listing import (DIGITS, AnnotationFileError, ImageListing, numbered_lines, path_inside,
                                          require_unique)


def _id_table(path: Path, expected: str) -> list[tuple[int, str, int]]:
    """``(id, value, line number)`` per line; an id given twice is refused."""
    rows = []
    for number, line in numbered_lines(path, expected):
        key, _, value = line.partition(" ")
        if not DIGITS.fullmatch(key) or not value.strip():
            raise AnnotationFileError(path, expected, f"line {number} is {line!r}")
        rows.append((int(key), value.strip(), number))
    require_unique(((key, f"line {number}") for key, _, number in rows), path, "id")
    return rows


def _attribute_names(root: Path) -> list[tuple[int, str, int]]:
    candidates = [root / "attributes" / "attributes.txt", root.parent / "attributes.txt"]
    for path in candidates:
        if path.is_file():
            return _id_table(path, '"<attribute id> <name>" per line')
    raise FileNotFoundError(f"{candidates[0]} or {candidates[1]}: file not found; expected the "
                            "312 attribute names, one '<attribute id> <name>' per line")


def load_cub_attributes(root: str | Path, split: str = "train", check_images: bool = False) -> ImageListing:
    """Image paths and the 312-attribute label matrix of the official train or test split.

    A split flag other than 0 or 1, a repeated id or (image, attribute) pair, and an image path
    leaving ``root/images`` raise :class:`AnnotationFileError` with the file and line;
    ``check_images`` also requires every image file to exist."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    attributes = _attribute_names(root)
    images_path = root / "images.txt"
    images = {image_id: path_inside(root / "images", name, images_path, f"line {number}")
              for image_id, name, number in _id_table(images_path, '"<image id> <relative path>" per line')}
    split_path = root / "train_test_split.txt"
    expected_split = '"<image id> <1 train | 0 test>" per line'
    in_split = []
    for image_id, flag, number in _id_table(split_path, expected_split):
        if flag not in ("0", "1"):
            raise AnnotationFileError(split_path, expected_split, f"line {number} has the split flag {flag!r}")
        if image_id not in images:
            raise AnnotationFileError(split_path, "image ids listed in images.txt",
                                      f"line {number} names image {image_id}, which is not")
        if flag == ("1" if split == "train" else "0"):
            in_split.append(image_id)
    row_of = {image_id: row for row, image_id in enumerate(in_split)}
    column_of = {attribute_id: column for column, (attribute_id, _, _) in enumerate(attributes)}
    labels_path = root / "attributes" / "image_attribute_labels.txt"
    expected = '"<image id> <attribute id> <is present 0/1> ..." per line'
    rows, columns, values, numbers = [], [], [], []
    for number, line in numbered_lines(labels_path, expected):
        fields = line.split()
        if len(fields) < 3 or not all(DIGITS.fullmatch(f) for f in fields[:3]) or fields[2] not in ("0", "1"):
            raise AnnotationFileError(labels_path, expected, f"line {number} is {line!r}")
        image_id, attribute_id = int(fields[0]), int(fields[1])
        if attribute_id not in column_of:
            raise AnnotationFileError(labels_path, "attribute ids listed in attributes.txt",
                                      f"line {number} has attribute {attribute_id}")
        if image_id in row_of:
            rows.append(row_of[image_id])
            columns.append(column_of[attribute_id])
            values.append(float(fields[2]))
            numbers.append(number)
    labels = np.full((len(in_split), len(attributes)), -1.0, dtype=np.float32)
    counts = np.zeros(labels.shape, dtype=np.int64)
    np.add.at(counts, (rows, columns), 1)
    if counts.max(initial=0) > 1:
        first, second = [numbers[k] for k in np.flatnonzero(counts[rows, columns] > 1)[:2]]
        raise AnnotationFileError(labels_path, "each (image, attribute) pair once",
                                  f"lines {first} and {second} label the same pair")
    labels[rows, columns] = values
    listing = ImageListing([images[image_id] for image_id in in_split], torch.from_numpy(labels),
                           [name for _, name, _ in attributes], meta={"split": split, "image_ids": in_split})
    if check_images:
        listing.require_images()
    return listing
