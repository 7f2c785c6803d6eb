"""OpenImages (Kuznetsova et al., 2020): image-level labels from the CSV files.

OpenImages is partially labelled by design: for each image, human raters verified some labels
as present (``Confidence`` 1) and some as absent (``Confidence`` 0); every other class was
never checked. The loader keeps that: 1, 0, and -1 for the unchecked rest, which is the
real partial-label setting of the Large Loss Matters supplement (Table 2, OpenImages V3).

Inputs (file names differ between versions, so they are given explicitly):

- ``labels_csv``: header ``ImageID,Source,LabelName,Confidence``, e.g.
  ``train-annotations-human-imagelabels-boxable.csv``;
- ``classes_csv``: ``LabelName,DisplayName`` rows (with or without that header), e.g.
  ``class-descriptions-boxable.csv``; its order fixes the columns;
- ``image_dir``: the folder of ``<ImageID>.jpg`` files.

Rows whose ``LabelName`` is not in ``classes_csv`` are skipped and counted in
``meta["skipped_rows"]``. If raters disagree on an (image, class) pair, present wins.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from mlteach.data.loaders.listing import AnnotationFileError, ImageListing, path_inside, read_text, require_unique

LABEL_COLUMNS = ("ImageID", "LabelName", "Confidence")


def _csv_rows(path: Path, expected: str) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of every non-empty CSV record; NUL bytes are refused."""
    text = read_text(path, expected)
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise AnnotationFileError(path, expected, f"line {line} holds a NUL byte")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, row) for row in reader if row]
    except csv.Error as error:
        raise AnnotationFileError(path, expected, f"line {reader.line_num} is not valid CSV ({error})") from None


def _read_classes(path: Path) -> list[tuple[str, str]]:
    expected = "LabelName,DisplayName rows"
    rows = _csv_rows(path, expected)
    if rows and rows[0][1][:2] == ["LabelName", "DisplayName"]:
        rows = rows[1:]
    if not rows or any(len(row) < 2 or not row[0] for _, row in rows):
        raise AnnotationFileError(path, expected, "found an empty file or a row with fewer than two fields")
    require_unique(((row[0], f"line {number}") for number, row in rows), path, "LabelName")
    return [(row[0], row[1]) for _, row in rows]


def load_openimages(labels_csv: str | Path, classes_csv: str | Path, image_dir: str | Path,
                    check_images: bool = False) -> ImageListing:
    """Image paths and labels in {1, 0, -1} (see the module docstring). Repeated label names,
    NUL bytes, bad Confidence values and image ids that would leave ``image_dir`` raise
    :class:`AnnotationFileError` with the file and line; ``check_images`` also requires every
    image file to exist."""
    labels_csv, image_dir = Path(labels_csv), Path(image_dir)
    classes = _read_classes(Path(classes_csv))
    column_of = {label_name: column for column, (label_name, _) in enumerate(classes)}
    expected = "a CSV with the columns " + ", ".join(LABEL_COLUMNS) + " and Confidence 0 or 1"
    rows = _csv_rows(labels_csv, expected)
    header = rows[0][1] if rows else []
    missing = [name for name in LABEL_COLUMNS if name not in header]
    if missing:
        raise AnnotationFileError(labels_csv, expected, f"the header lacks {missing}")
    index = {name: header.index(name) for name in LABEL_COLUMNS}
    row_of: dict[str, int] = {}
    paths: list[Path] = []
    entries: list[tuple[int, int, float]] = []
    skipped = 0
    for line_number, fields in rows[1:]:
        if len(fields) != len(header):
            raise AnnotationFileError(labels_csv, expected, f"line {line_number} has {len(fields)} fields, "
                                                            f"the header {len(header)}")
        image_id, label_name, confidence = (fields[index[name]].strip() for name in LABEL_COLUMNS)
        if not image_id:
            raise AnnotationFileError(labels_csv, expected, f"line {line_number} has an empty ImageID")
        if confidence not in ("0", "1"):
            raise AnnotationFileError(labels_csv, expected, f"line {line_number} has Confidence {confidence!r}")
        if image_id not in row_of:
            paths.append(path_inside(image_dir, f"{image_id}.jpg", labels_csv, f"line {line_number}"))
            row_of[image_id] = len(row_of)
        if label_name not in column_of:
            skipped += 1
            continue
        entries.append((row_of[image_id], column_of[label_name], float(confidence)))
    labels = np.full((len(row_of), len(classes)), -1.0, dtype=np.float32)
    if entries:
        rows_, columns, values = (np.asarray(part) for part in zip(*entries))
        np.maximum.at(labels, (rows_, columns), values.astype(np.float32))
    listing = ImageListing(paths, torch.from_numpy(labels), [name for _, name in classes],
                           meta={"label_names": [label for label, _ in classes], "skipped_rows": skipped})
    if check_images:
        listing.require_images()
    return listing
