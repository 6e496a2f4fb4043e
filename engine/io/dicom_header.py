"""Read a DICOM header and check it against the decode budget before any codec runs.

SimpleITK and pydicom both trust headers: SimpleITK returns truncated pixel data with a garbage
tail, and a tiny file declaring 100,000 frames or a deflated body of 1.5 GB makes them allocate
accordingly. Everything here works on the header alone (pixel data deferred).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from engine.errors import CorruptFileError, ImageTooLargeError, UnsupportedFormatError
from engine.io.limits import DecodeBudget
from engine.io.sniff import looks_like_raw_dicom

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_ALLOWED_BITS_ALLOCATED = {1, 8, 16, 32, 64}
# Pixel data bigger than this stays on disk until decoding (keeps header reads cheap).
_DEFER_SIZE = "256 KB"
_UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class PixelLayout:
    """The header fields that decide how pixel data is decoded, after validation."""

    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    number_of_frames: int
    pixel_keyword: str
    transfer_syntax: UID

    photometric: str = ""
    declared_frames: int = 1

    @property
    def frame_bytes(self) -> int:
        """Bytes of one uncompressed frame (1-bit data is packed; YBR_FULL_422 is subsampled)."""
        samples = 2 if self.photometric == "YBR_FULL_422" else self.samples_per_pixel
        bits = self.rows * self.columns * samples * self.bits_allocated
        return (bits + 7) // 8


def read_header(path: Path, head: bytes, budget: DecodeBudget) -> FileDataset:
    """Parse the DICOM header of ``path`` with pixel data deferred; refuse inflation bombs."""
    force = head[128:132] != b"DICM" and looks_like_raw_dicom(head)
    if head[128:132] != b"DICM" and not force:
        raise UnsupportedFormatError("not a DICOM file (no DICM marker)")
    deflated = not force and _check_deflated_size(path, budget)
    # A deflated body is inflated in memory (bounded above), so nothing can be deferred to disk.
    defer = None if deflated else _DEFER_SIZE
    dataset = pydicom.dcmread(str(path), defer_size=defer, force=force)
    return dataset


def _check_deflated_size(path: Path, budget: DecodeBudget) -> bool:
    """Inflate a deflated body with a hard output cap before pydicom inflates it unbounded.

    Returns whether the file is deflated.
    """
    meta = pydicom.filereader.read_file_meta_info(str(path))
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return False
    with path.open("rb") as stream:
        stream.seek(128 + 4)
        group_header = stream.read(12)  # (0002,0000) UL: tag, VR, length, value
        if len(group_header) < 12:
            raise CorruptFileError("DICOM file meta information is truncated")
        (group_length,) = struct.unpack("<I", group_header[8:12])
        stream.seek(128 + 4 + 12 + group_length)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        produced = 0
        while chunk := stream.read(1 << 20):
            produced += len(inflater.decompress(chunk, budget.max_inflated_bytes - produced + 1))
            if produced > budget.max_inflated_bytes or inflater.unconsumed_tail:
                raise ImageTooLargeError(
                    "deflated DICOM expands beyond the decode budget "
                    f"({budget.max_inflated_bytes // 2**20} MB)"
                )
    return True


def _transfer_syntax(dataset: FileDataset) -> UID:
    """The declared transfer syntax, else the encoding pydicom found while parsing."""
    meta = getattr(dataset, "file_meta", None)
    declared = meta.get("TransferSyntaxUID") if meta is not None else None
    if declared:
        return UID(declared)
    implicit, little = dataset.original_encoding
    if implicit and little:
        found = ImplicitVRLittleEndian
    else:
        found = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    # The decoders read the syntax from the file meta; record what the parser found there.
    if meta is None:
        dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = found
    return found


def _int_attr(dataset: FileDataset, keyword: str, default: int | None = None) -> int:
    value = dataset.get(keyword, default)
    if value is None or value == "":
        if default is None:
            raise CorruptFileError(f"DICOM header lacks {keyword}")
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise CorruptFileError(f"DICOM {keyword} is not a number") from error


def validate_layout(dataset: FileDataset, budget: DecodeBudget) -> PixelLayout:
    """Check that the header describes a decodable image within the budget."""
    pixel_keyword = next((k for k in _PIXEL_KEYWORDS if k in dataset), None)
    if pixel_keyword is None:
        if _holds_pixel_data_tag(getattr(dataset, "filename", None)):
            # pydicom drops an element it could not finish reading (with a warning only).
            raise CorruptFileError(
                "DICOM pixel data is truncated or malformed: the file ends inside it"
            )
        raise CorruptFileError(
            "DICOM file has no pixel data (a report, structured document or presentation state?)"
        )
    syntax = _transfer_syntax(dataset)
    rows = _int_attr(dataset, "Rows")
    columns = _int_attr(dataset, "Columns")
    samples = _int_attr(dataset, "SamplesPerPixel", 1)
    bits_allocated = _int_attr(dataset, "BitsAllocated")
    bits_stored = _int_attr(dataset, "BitsStored", bits_allocated)
    representation = _int_attr(dataset, "PixelRepresentation", 0)
    frames = _int_attr(dataset, "NumberOfFrames", 1)
    if rows <= 0 or columns <= 0:
        raise CorruptFileError(f"DICOM image size {rows} x {columns} is empty")
    if samples not in (1, 3):
        raise CorruptFileError(f"DICOM SamplesPerPixel {samples} is not 1 or 3")
    if bits_allocated not in _ALLOWED_BITS_ALLOCATED:
        raise CorruptFileError(f"DICOM BitsAllocated {bits_allocated} is not supported")
    if not 1 <= bits_stored <= bits_allocated:
        raise CorruptFileError(
            f"DICOM BitsStored {bits_stored} does not fit BitsAllocated {bits_allocated}"
        )
    if representation not in (0, 1):
        raise CorruptFileError(f"DICOM PixelRepresentation {representation} is not 0 or 1")
    if frames < 1:
        raise CorruptFileError(f"DICOM NumberOfFrames {frames} is not positive")
    pixels = rows * columns * samples
    if pixels > budget.max_pixels:
        raise ImageTooLargeError(
            f"DICOM image of {rows} x {columns} x {samples} exceeds the pixel limit "
            f"({budget.max_pixels / 2**20:.0f} Mpx)"
        )
    layout = PixelLayout(
        rows,
        columns,
        samples,
        bits_allocated,
        bits_stored,
        representation,
        frames,
        pixel_keyword,
        syntax,
        str(dataset.get("PhotometricInterpretation", "")).upper(),
        frames,
    )
    if not layout.transfer_syntax.is_compressed:
        present = _check_native_length(dataset, layout) // layout.frame_bytes
        if present < frames:
            # The header promises more frames than the file holds: decode what is there, and
            # tell pydicom so (it checks the whole declared length, not just the first frame).
            dataset.NumberOfFrames = present
            layout = replace(layout, number_of_frames=present)
    return layout


def _check_native_length(dataset: FileDataset, layout: PixelLayout) -> int:
    """Native (uncompressed) pixel data must hold at least the first frame; return its length."""
    element = dataset.get_item(layout.pixel_keyword, keep_deferred=True)
    length = _available_length(dataset, element)
    if length < layout.frame_bytes:
        raise CorruptFileError(
            f"DICOM pixel data is shorter ({length} bytes) than Rows x Columns needs "
            f"({layout.frame_bytes} bytes): the file is truncated"
        )
    return length


def _available_length(dataset: FileDataset, element: object) -> int:
    """Bytes of pixel data actually present, without reading a deferred value."""
    value = getattr(element, "value", None)
    if value is not None:
        return len(value)
    declared = int(getattr(element, "length", 0))
    if declared == _UNDEFINED_LENGTH:
        return 0  # undefined length is only valid for encapsulated (compressed) data
    value_tell = getattr(element, "value_tell", None)
    filename = getattr(dataset, "filename", None)
    if value_tell is None or not isinstance(filename, str):
        return declared
    return max(0, min(declared, Path(filename).stat().st_size - int(value_tell)))


# (7FE0,0010) Pixel Data, (7FE0,0008) Float and (7FE0,0009) Double Float Pixel Data tags as
# written in little- and big-endian files.
_PIXEL_TAG_BYTES = (
    b"\xe0\x7f\x10\x00",
    b"\xe0\x7f\x08\x00",
    b"\xe0\x7f\x09\x00",
    b"\x7f\xe0\x00\x10",
)


def _holds_pixel_data_tag(filename: object) -> bool:
    """Whether the raw file contains a pixel data tag pydicom did not return (error path only)."""
    if not isinstance(filename, str):
        return False
    overlap = b""
    try:
        with open(filename, "rb") as stream:
            stream.seek(132)
            while chunk := stream.read(1 << 20):
                window = overlap + chunk
                if any(tag in window for tag in _PIXEL_TAG_BYTES):
                    return True
                overlap = chunk[-3:]
    except OSError:
        return False
    return False
