"""What the study browser shows for one file, computed on the worker (no Qt).

Files are grouped by the DICOM study and series they belong to (Study/Series Instance UID, read by
the engine's loader); PNG, JPEG and TIFF files have no study and go under "other images". The
labels are numbered ("Study 1", "Series 2") and built from display-safe header fields only
(modality, view, size): UIDs, dates and descriptions identify a patient, so they are used as
grouping keys and never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine import api

THUMBNAIL_SIZE = 96  # longest side, pixels
Thumbnail = npt.NDArray[np.uint8]  # (h, w) grayscale, row-major, C-contiguous


class Group(StrEnum):
    """Where a file goes when it belongs to no DICOM study."""

    STUDY = "study"
    OTHER = "other"  # readable, but not DICOM (or DICOM without a study UID)
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True, eq=False)
class BrowserEntry:
    """One file of the folder. ``study_key``/``series_key`` are grouping keys, never shown."""

    path: Path
    group: Group
    study_key: str
    series_key: str
    description: str  # display-safe: modality, view, size
    thumbnail: Thumbnail | None
    error: str | None = None


def describe_image(
    path: Path,
    loader: Callable[[Path], api.Radiograph] = api.load_radiograph,
    size: int = THUMBNAIL_SIZE,
) -> BrowserEntry:
    """Load ``path`` (on the worker), key it by study/series and make a thumbnail.

    A file the engine cannot read becomes an ``UNREADABLE`` entry carrying the engine's one-line
    message; only programming errors propagate.
    """
    try:
        radiograph = loader(path)
    except api.EngineError as error:
        return BrowserEntry(path, Group.UNREADABLE, "", "", "", None, str(error))
    except OSError as error:
        return BrowserEntry(path, Group.UNREADABLE, "", "", "", None, error.strerror or str(error))
    fields = radiograph.identity.as_dict()
    study = fields.get("StudyInstanceUID", "")
    series = fields.get("SeriesInstanceUID", "")
    group = Group.STUDY if study else Group.OTHER
    return BrowserEntry(
        path=path,
        group=group,
        study_key=study,
        series_key=series,
        description=_description(radiograph.info),
        thumbnail=thumbnail(radiograph.display(), size),
    )


def thumbnail(display: npt.NDArray[np.float32], size: int = THUMBNAIL_SIZE) -> Thumbnail:
    """``display`` (H, W) in ``[0, 1]`` shrunk by block means to at most ``size`` pixels a side."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    height, width = display.shape
    step = max(1, -(-max(height, width) // size))  # ceil division
    rows, columns = height // step, width // step
    if rows == 0 or columns == 0:
        cropped = display[: max(rows, 1) * step, : max(columns, 1) * step]
        small = cropped[::step, ::step]
    else:
        blocks = display[: rows * step, : columns * step].reshape(rows, step, columns, step)
        small = blocks.mean(axis=(1, 3))
    pixels = np.rint(np.clip(np.nan_to_num(small), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(pixels)


def _description(info: api.ImageInfo) -> str:
    parts = [part for part in (info.modality, info.view_position) if part]
    parts.append(f"{info.columns} \u00d7 {info.rows} px")
    return " · ".join(parts)
