"""The ``formatted_*.npy`` layout of the single-positive multi-label benchmark.

Cole et al. ("Multi-Label Learning from Single Positive Labels", CVPR 2021) preprocess VOC,
COCO, NUS-WIDE and CUB into two arrays per split, which later single-positive work, the EM /
APL paper among it, reuses::

    root/formatted_{train,val,test}_images.npy   [N] image file names (a string array)
    root/formatted_{train,val,test}_labels.npy   [N, C] full labels, 0 or 1

The names are relative to the data set's image folder, given as ``image_dir`` (default
``root``). The layout stores no class names; pass ``class_names`` or get ``class_0``, ...
The arrays are loaded with ``allow_pickle=False``: a file that needs unpickling is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mlteach.data.loaders.listing import AnnotationFileError, ImageListing, path_inside, require_file


def _load_array(path: Path, expected: str) -> np.ndarray:
    require_file(path, expected)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise AnnotationFileError(path, expected, f"it could not be read as a plain .npy array ({error})") from None


def load_formatted_npy(root: str | Path, split: str = "train", image_dir: str | Path | None = None,
                       class_names: Sequence[str] | None = None, check_images: bool = False) -> ImageListing:
    """Image paths and full labels of one split of the benchmark layout. A file name leading
    outside the image folder raises :class:`AnnotationFileError` with its entry;
    ``check_images`` also requires every image file to exist."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    root = Path(root)
    names_path = root / f"formatted_{split}_images.npy"
    labels_path = root / f"formatted_{split}_labels.npy"
    names = _load_array(names_path, "a 1-D array of image file names")
    labels = _load_array(labels_path, "an [N, C] array of 0/1 labels")
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise AnnotationFileError(names_path, "a 1-D array of image file names",
                                  f"found shape {names.shape} and dtype {names.dtype}")
    if labels.ndim != 2 or len(labels) != len(names) or not np.isin(labels, (0, 1)).all():
        raise AnnotationFileError(labels_path, f"an [{len(names)}, C] array of 0/1 labels",
                                  f"found shape {labels.shape} with values {np.unique(labels)[:5].tolist()}")
    if class_names is None:
        class_names = [f"class_{c}" for c in range(labels.shape[1])]
    if len(class_names) != labels.shape[1]:
        raise ValueError(f"{len(class_names)} class names given for {labels.shape[1]} label columns")
    folder = root if image_dir is None else Path(image_dir)
    paths = [path_inside(folder, str(name), names_path, f"entry {row}") for row, name in enumerate(names)]
    listing = ImageListing(paths, torch.from_numpy(labels.astype(np.float32)), list(class_names),
                           meta={"split": split})
    if check_images:
        listing.require_images()
    return listing
