"""Pascal VOC 2007 / 2012 (Everingham et al.): 20 object classes from the XML annotations.

Expected layout (as unpacked from the official tar files)::

    root/VOC2007/ImageSets/Main/{train,val,trainval,test}.txt   one image id per line
    root/VOC2007/Annotations/<id>.xml                           objects of each image
    root/VOC2007/JPEGImages/<id>.jpg

with ``root`` the ``VOCdevkit`` folder (``VOC2012`` for 2012). The XML files are parsed with
defusedxml, which refuses entity tricks a downloaded file could carry.

'Difficult' objects: VOC marks objects that are hard to recognise as ``<difficult>1``. The
official classification protocol labels an image 0 ("difficult") for a class whose only
objects are difficult and leaves it out of that class's AP. ``difficult="unknown"`` (default)
reproduces this with the book's -1 (unknown, excluded by :mod:`mlteach.metrics`);
``"positive"`` counts such images as positives and ``"negative"`` as negatives, the two
choices made by different multi-label codebases. A class with at least one non-difficult
object is always positive.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import torch

from mlteach.data.loaders.listing import (AnnotationFileError, ImageListing, numbered_lines, path_inside,
                                          require_file, require_unique)

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]
DIFFICULT_CHOICES = {"unknown": -1.0, "positive": 1.0, "negative": 0.0}


def _objects(xml_path: Path) -> list[tuple[str, bool]]:
    """(class name, difficult) of every object in one annotation file."""
    expected = "a VOC annotation (<annotation> with <object><name>, <difficult>)"
    require_file(xml_path, expected)
    try:
        tree = defusedxml.ElementTree.parse(xml_path)
    except (ParseError, defusedxml.DefusedXmlException) as error:
        raise AnnotationFileError(xml_path, expected, f"the XML could not be read ({error})") from None
    objects = []
    for element in tree.getroot().iter("object"):
        name = (element.findtext("name") or "").strip()
        if name not in VOC_CLASSES:
            raise AnnotationFileError(xml_path, "object names among the 20 VOC classes", f"found {name!r}")
        flag = (element.findtext("difficult") or "0").strip()
        if flag not in ("0", "1"):
            raise AnnotationFileError(xml_path, "<difficult> 0 or 1", f"found {flag!r}")
        objects.append((name, flag == "1"))
    return objects


def load_voc(root: str | Path, year: str = "2007", image_set: str = "trainval",
             difficult: str = "unknown", check_images: bool = False) -> ImageListing:
    """Image paths and 20-class labels of one VOC image set (see the module docstring).

    An image id listed twice, or one that would lead outside the ``Annotations`` and
    ``JPEGImages`` folders (``../``), raises :class:`AnnotationFileError` with the image-set file
    and line; ``check_images`` also requires every image file to exist."""
    if difficult not in DIFFICULT_CHOICES:
        raise ValueError(f"difficult must be one of {list(DIFFICULT_CHOICES)}, got {difficult!r}")
    base = Path(root) / f"VOC{year}"
    image_set_path = base / "ImageSets" / "Main" / f"{image_set}.txt"
    lines = numbered_lines(image_set_path, "one image id per line")
    require_unique(((image_id, f"line {number}") for number, image_id in lines), image_set_path, "image id")
    annotations = [path_inside(base / "Annotations", f"{image_id}.xml", image_set_path, f"line {number}")
                   for number, image_id in lines]
    paths = [path_inside(base / "JPEGImages", f"{image_id}.jpg", image_set_path, f"line {number}")
             for number, image_id in lines]
    labels = torch.zeros(len(lines), len(VOC_CLASSES))
    for row, annotation in enumerate(annotations):
        for name, is_difficult in _objects(annotation):
            column = VOC_CLASSES.index(name)
            if not is_difficult:
                labels[row, column] = 1.0
            elif labels[row, column] != 1.0:
                labels[row, column] = DIFFICULT_CHOICES[difficult]
    listing = ImageListing(paths, labels, list(VOC_CLASSES),
                           meta={"year": year, "image_set": image_set, "difficult": difficult})
    if check_images:
        listing.require_images()
    return listing
