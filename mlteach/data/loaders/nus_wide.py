"""NUS-WIDE (Chua et al., 2009): 81 concepts of Flickr images, from the official text files.

Expected layout (the official ``Concepts81.txt``, ``ImageList`` and ``Groundtruth`` archives,
with the images in ``Flickr``)::

    root/Concepts81.txt                                       one concept per line
    root/ImageList/{Train,Test}Imagelist.txt                  one image path per line
    root/Groundtruth/TrainTestLabels/Labels_<concept>_{Train,Test}.txt   0 or 1 per line
    root/Flickr/<folder>/<file>.jpg

The image lists hold Windows paths such as ``C:\\ImageData\\Flickr\\actor\\0001_2124494179.jpg``;
the last two components (folder and file) are kept and resolved under ``root/Flickr``. Line i of
every label file belongs to line i of the image list.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mlteach.data.loaders.listing import (AnnotationFileError, ImageListing, numbered_lines, path_inside,
                                          read_lines, require_unique)


def load_nus_wide(root: str | Path, split: str = "train", check_images: bool = False) -> ImageListing:
    """Image paths and 81-concept labels of the official train or test split. A concept listed
    twice, or an image path leading outside ``root/Flickr``, raises
    :class:`AnnotationFileError` with the file and line; ``check_images`` also requires every
    image file to exist."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root, part = Path(root), split.capitalize()
    concepts_path = root / "Concepts81.txt"
    concept_lines = numbered_lines(concepts_path, "one concept name per line")
    require_unique(((concept, f"line {number}") for number, concept in concept_lines), concepts_path, "concept")
    concepts = [concept for _, concept in concept_lines]
    list_path = root / "ImageList" / f"{part}Imagelist.txt"
    paths = []
    for number, line in numbered_lines(list_path, "one image path per line"):
        components = [c for c in line.replace("\\", "/").split("/") if c]
        paths.append(path_inside(root / "Flickr", "/".join(components[-2:]), list_path, f"line {number}"))
    labels = torch.zeros(len(paths), len(concepts))
    for column, concept in enumerate(concepts):
        path = root / "Groundtruth" / "TrainTestLabels" / f"Labels_{concept}_{part}.txt"
        values = read_lines(path, f"one 0/1 label per image of {part}Imagelist.txt")
        if len(values) != len(paths):
            raise AnnotationFileError(path, f"{len(paths)} lines (one per image of {part}Imagelist.txt)",
                                      f"found {len(values)}")
        bad = [value for value in values if value not in ("0", "1")]
        if bad:
            raise AnnotationFileError(path, "0 or 1 on every line", f"found {bad[0]!r}")
        labels[:, column] = torch.tensor([float(value) for value in values])
    listing = ImageListing(paths, labels, concepts, meta={"split": split})
    if check_images:
        listing.require_images()
    return listing
