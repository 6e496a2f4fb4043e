"""DICOM file -> ``Radiograph``: header validation, decoding, then the grayscale pipeline."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import FileDataset

from engine.io.dicom_decode import decode_first_frame
from engine.io.dicom_header import read_header, validate_layout
from engine.io.dicom_presentation import (
    is_inverted,
    pixel_spacing,
    to_modality_values,
    voi_presets,
)
from engine.io.limits import DecodeBudget
from engine.io.phi import extract_identity
from engine.io.sniff import has_suspicious_preamble
from engine.logs import remember_identifiers
from engine.types import ImageInfo, Radiograph, SourceFormat, readonly


def read_dicom(path: Path, head: bytes, budget: DecodeBudget) -> Radiograph:
    """Load the first frame of a DICOM file as a ``Radiograph`` in this process (errors:
    ``InputError``). ``engine.io.loader`` runs it in the decoder process unless isolation is
    off (``engine.io.isolation``)."""
    warnings: list[str] = []
    if has_suspicious_preamble(head):
        warnings.append("non-standard bytes in the DICOM preamble (possible polyglot file)")
    dataset = read_header(path, head, budget)
    layout = validate_layout(dataset, budget)
    if layout.declared_frames > layout.number_of_frames:
        warnings.append(
            f"header declares {layout.declared_frames} frames but the file holds "
            f"{layout.number_of_frames}: showing frame 1"
        )
    elif layout.number_of_frames > 1:
        warnings.append(f"multi-frame image ({layout.number_of_frames} frames): showing frame 1")
    stored = decode_first_frame(dataset, layout)
    values = to_modality_values(stored, dataset, warnings)
    presets = voi_presets(dataset, values, warnings)
    info = _image_info(dataset, layout.number_of_frames, layout.bits_stored, warnings)
    identity = extract_identity(dataset)
    remember_identifiers(identity.values())  # kept out of every log line
    return Radiograph(
        pixels=readonly(values),
        presets=presets,
        invert=is_inverted(dataset),
        info=info,
        identity=identity,
        warnings=tuple(warnings),
    )


def _image_info(
    dataset: FileDataset, frames: int, bits_stored: int, warnings: list[str]
) -> ImageInfo:
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    return ImageInfo(
        source_format=SourceFormat.DICOM,
        rows=int(dataset.Rows),
        columns=int(dataset.Columns),
        modality=_text(dataset, "Modality"),
        photometric_interpretation=_text(dataset, "PhotometricInterpretation"),
        transfer_syntax=syntax.name if syntax is not None else None,
        transfer_syntax_uid=str(syntax) if syntax is not None else None,
        bits_stored=bits_stored,
        number_of_frames=frames,
        spacing=pixel_spacing(dataset, warnings),
        view_position=_text(dataset, "ViewPosition"),
        manufacturer=_text(dataset, "Manufacturer"),
        sop_class_uid=_uid(dataset, "SOPClassUID"),
    )


def _uid(dataset: FileDataset, keyword: str) -> str | None:
    """A well-formed UID value of ``keyword``, else None (not worth losing the image over)."""
    text = _text(dataset, keyword)
    if text is None or len(text) > 64 or not all(c.isdigit() or c == "." for c in text):
        return None
    return text


def _text(dataset: FileDataset, keyword: str) -> str | None:
    value = dataset.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None
