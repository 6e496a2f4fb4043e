"""What the viewer exports, and the writers (run on the worker, except the screen grab).

Every file is written atomically (``engine.api.atomic_path``: temporary file, fsync, rename), so a
reader never sees half a file. Suggested names are fixed (``DEFAULT_NAMES``): nothing is derived
from the image's file name or its header. Patient identifiers go into a GIF only when the user ticks
the box (``GifExportOptions.include_identifiers``), and DICOM objects keep the patient's identity
only when the user ticks that box (``ExportRequest.keep_identity``); PNG and statistics never carry
them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PySide6.QtGui import QImage

from engine import api
from engine.api import atomic_path, write_text_atomically
from viewer.explanation import FloatImage
from viewer.statistics_report import StatisticsReport, to_csv, to_json

# Identifying fields a user may choose to burn into a GIF header, in this order.
HEADER_IDENTIFIERS = ("PatientName", "PatientID", "AccessionNumber", "StudyDate")
DEFAULT_GIF_FPS = 8
DEFAULT_GIF_MAX_WIDTH = 1200


class ExportKind(StrEnum):
    GIF = "gif"
    PNG = "png"
    CSV = "csv"
    JSON = "json"
    DICOM = "dcm"

    @property
    def label(self) -> str:
        return _TITLES[self]

    @property
    def file_filter(self) -> str:
        return f"{_TITLES[self]} (*.{self.value})"

    @property
    def is_folder(self) -> bool:
        """DICOM results are several files: the user picks a folder, they go into its dicom/."""
        return self is ExportKind.DICOM

    @property
    def needs_explanation(self) -> bool:
        """A PNG snapshot works with the original alone; everything else needs a result."""
        return self is not ExportKind.PNG


_TITLES = {
    ExportKind.GIF: "Animated GIF of the explanation",
    ExportKind.PNG: "PNG snapshot of the three panes",
    ExportKind.CSV: "Lung statistics as CSV",
    ExportKind.JSON: "Lung statistics as JSON",
    ExportKind.DICOM: "DICOM objects (images, map, lungs, report)",
}
DEFAULT_NAMES = {
    ExportKind.GIF: "explanation.gif",
    ExportKind.PNG: "explanation_panes.png",
    ExportKind.CSV: "lung_statistics.csv",
    ExportKind.JSON: "lung_statistics.json",
    ExportKind.DICOM: "explanation_dicom",
}


@dataclass(frozen=True, slots=True)
class GifExportOptions:
    """``first_frame``/``last_frame``: inclusive, 0-based slider frames (None = the last)."""

    fps: int = DEFAULT_GIF_FPS
    first_frame: int = 0
    last_frame: int | None = None
    max_width: int = DEFAULT_GIF_MAX_WIDTH
    include_identifiers: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.fps <= 50:
            raise ValueError(f"fps must be within [1, 50], got {self.fps}")
        if self.first_frame < 0:
            raise ValueError(f"first_frame must be at least 0, got {self.first_frame}")
        if self.last_frame is not None and self.last_frame < self.first_frame:
            raise ValueError(
                f"last_frame ({self.last_frame}) must not be before first_frame "
                f"({self.first_frame})"
            )


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """``keep_identity``: DICOM objects keep the patient and study identity (filed into the
    source's study); off, they are de-identified (PS3.15 basic profile)."""

    kind: ExportKind
    gif: GifExportOptions = GifExportOptions()
    keep_identity: bool = False


def with_suffix(path: Path, kind: ExportKind) -> Path:
    """``path`` with the kind's extension (a user who typed none still gets a readable file);
    a folder export's path is the folder itself."""
    if kind.is_folder:
        return path
    return path if path.suffix.lower() == f".{kind.value}" else path.with_suffix(f".{kind.value}")


def write_gif_export(
    path: Path,
    result: api.ExplanationResult,
    options: GifExportOptions,
    identity: api.PatientIdentity | None = None,
) -> Path:
    """The primary counterfactual's frames ``first..last`` as a GIF (labels burned in, and the
    explanation's caution in a red band on every frame when it has one)."""
    return write_sequence_gif(
        path,
        result.original,
        result.primary.frames,
        options,
        identity,
        description=api.gif_description(result),
        caution=result.caution(),
    )


def write_sequence_gif(
    path: Path,
    original: FloatImage,
    sequence: api.FrameSequence,
    options: GifExportOptions,
    identity: api.PatientIdentity | None = None,
    *,
    description: str | None = None,
    caution: str | None = None,
) -> Path:
    """Frames ``first..last`` of any slider ``sequence`` (CycleGAN or FIGAN) as a GIF;
    ``description`` heads every frame (direction, models), ``caution`` is burned in as a warning
    band."""
    count = len(sequence.frames)
    last = count - 1 if options.last_frame is None else options.last_frame
    if options.first_frame >= count or last >= count:
        raise api.InputError(
            f"frame range {options.first_frame + 1}-{last + 1} is outside the {count} frames"
        )
    # Same difference scale as the full sequence: a shorter clip must not look stronger.
    clip = dataclasses.replace(sequence, frames=sequence.frames[options.first_frame : last + 1])
    header = identifier_header(identity) if options.include_identifiers else None
    gif_options = api.GifOptions(
        frame_ms=max(20, round(1000 / options.fps)),
        max_width=options.max_width,
        header_text=header,
        description=description,
        caution=caution,
    )
    return api.write_gif(path, original, clip, gif_options)


def identifier_header(identity: api.PatientIdentity | None) -> str | None:
    """The identifying header line a user asked for, or None when the image has none."""
    if identity is None:
        return None
    fields = identity.as_dict()
    parts = [fields[key] for key in HEADER_IDENTIFIERS if fields.get(key)]
    return "  ".join(parts) or None


def write_png_snapshot(path: Path, image: QImage) -> Path:
    """Save a grabbed ``QImage`` as PNG. Qt writes no text chunks unless asked, so the file holds
    pixels only. ``QImage`` (unlike ``QPixmap``) may be saved off the GUI thread."""
    if image.isNull():
        raise api.InputError("nothing to snapshot: the panes are empty")
    with atomic_path(path) as temporary:
        # PySide6 takes the format as str at run time; its stubs say bytes, which it refuses.
        if not image.save(str(temporary), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"could not write {path.name}")
    return path


def write_dicom_export(
    folder: Path, result: api.ExplanationResult, radiograph: api.Radiograph, keep_identity: bool
) -> Path:
    """The DICOM result objects into ``folder / "dicom"``; returns that folder."""
    written = api.write_dicom_results(result, radiograph, folder, anonymize=not keep_identity)
    return written[0].parent


def write_statistics(path: Path, report: StatisticsReport, kind: ExportKind) -> Path:
    if kind is ExportKind.CSV:
        return write_text_atomically(path, to_csv(report))
    if kind is ExportKind.JSON:
        return write_text_atomically(path, to_json(report))
    raise ValueError(f"{kind.value} is not a statistics format")
