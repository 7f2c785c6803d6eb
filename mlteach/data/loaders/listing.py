"""What every real-data loader returns, and the checks every loader shares.

A loader refuses rather than guesses: a file that is not UTF-8, nests too deeply, repeats an id,
holds a value of the wrong type or names an image outside the data set's folder raises an
:class:`AnnotationFileError` that names the file and the line or entry.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch

#: A whole number written with ASCII digits only (``str.isdigit`` also accepts e.g. "²" or "١").
DIGITS = re.compile(r"[0-9]+")


class AnnotationFileError(ValueError):
    """An annotation file exists but does not hold what the data set's format promises."""

    def __init__(self, path: Path, expected: str, found: str) -> None:
        super().__init__(f"{path}: expected {expected}; {found}")
        self.path = path


@dataclass
class ImageListing:
    """Images of one split of a real data set, not decoded.

    ``paths``: one image file per sample. ``labels``: float32 ``[N, C]``, 1 present, 0 absent,
    -1 unknown (e.g. VOC 'difficult' objects, OpenImages labels nobody verified).
    ``class_names``: the C class names in column order. ``meta``: what the loader read.
    """

    paths: list[Path]
    labels: torch.Tensor
    class_names: list[str]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.labels.shape != (len(self.paths), len(self.class_names)):
            raise ValueError(f"labels {tuple(self.labels.shape)} do not match {len(self.paths)} paths "
                             f"and {len(self.class_names)} classes")

    def __len__(self) -> int:
        return len(self.paths)

    def require_images(self) -> None:
        """``FileNotFoundError`` naming the first missing image file, its entry and how many
        are missing; nothing if every image is a file."""
        missing = [(row, path) for row, path in enumerate(self.paths) if not path.is_file()]
        if missing:
            row, path = missing[0]
            raise FileNotFoundError(f"{path}: image file not found (entry {row}); {len(missing)} of "
                                    f"{len(self.paths)} images of this listing are missing")


def require_file(path: Path, expected: str) -> Path:
    """``path`` if it is a file, else ``FileNotFoundError`` naming it and its expected content."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found; expected {expected}")
    return path


def read_text(path: Path, expected: str) -> str:
    """The UTF-8 text of a file; ``AnnotationFileError`` (with the line) if it is not UTF-8."""
    data = require_file(path, expected).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise AnnotationFileError(path, expected, f"line {line} is not UTF-8 text (byte "
                                                  f"{data[error.start:error.start + 1]!r})") from None


def read_json(path: Path, expected: str):
    """The parsed content of a JSON file; ``AnnotationFileError`` for bad JSON, bad encoding or
    nesting too deep to parse."""
    text = read_text(path, expected)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationFileError(path, expected, f"not valid JSON ({error})") from None
    except RecursionError:
        raise AnnotationFileError(path, expected, "the JSON is nested too deeply to read") from None


def numbered_lines(path: Path, expected: str) -> list[tuple[int, str]]:
    """``(line number, stripped line)`` of the non-empty lines of a UTF-8 text file."""
    lines = read_text(path, expected).splitlines()
    return [(number, line.strip()) for number, line in enumerate(lines, start=1) if line.strip()]


def read_lines(path: Path, expected: str) -> list[str]:
    """Non-empty lines of a text file, stripped."""
    return [line for _, line in numbered_lines(path, expected)]


def path_inside(folder: Path, name: str, source: Path, where: str) -> Path:
    """``folder / name`` for a relative file name that stays inside ``folder``; otherwise an
    ``AnnotationFileError`` naming ``source`` and ``where`` (its line or entry). The check is on
    the path's text (``..``, absolute paths, NUL bytes), so a folder that is a symbolic link
    still works."""
    candidate = os.path.normpath(folder / name) if name and "\x00" not in name else ""
    inside = bool(candidate) and not Path(name).is_absolute() \
        and Path(candidate).is_relative_to(os.path.normpath(folder)) and candidate != os.path.normpath(folder)
    if not inside:
        raise AnnotationFileError(source, f"file names inside {folder}", f"{where} names {name!r}")
    return folder / name


def require_unique(keys: Iterable[tuple[object, str]], source: Path, what: str) -> None:
    """``AnnotationFileError`` naming both places if a key occurs twice; ``keys`` holds
    ``(key, where)`` pairs."""
    seen: dict[object, str] = {}
    for key, where in keys:
        if key in seen:
            raise AnnotationFileError(source, f"each {what} once", f"{what} {key!r} appears at {seen[key]} "
                                                                    f"and again at {where}")
        seen[key] = where
