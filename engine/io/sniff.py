"""Recognise a file's format from its first bytes, never from its name alone."""

from __future__ import annotations

from engine.types import SourceFormat

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# A DICOM stream without preamble starts with a group 0002 or 0008 element (either endianness).
_RAW_DICOM_STARTS = (b"\x08\x00", b"\x02\x00", b"\x00\x08", b"\x00\x02")


def sniff_format(head: bytes) -> SourceFormat | None:
    """Return the format that ``head`` (at least the first 132 bytes) announces, or None."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return SourceFormat.DICOM
    if head.startswith(_PNG_MAGIC):
        return SourceFormat.PNG
    if head.startswith(_JPEG_MAGIC):
        return SourceFormat.JPEG
    if head.startswith(_TIFF_MAGICS):
        return SourceFormat.TIFF
    return None


def looks_like_raw_dicom(head: bytes) -> bool:
    """A preamble-less DICOM stream (old ACR-NEMA style) starts with a low group number."""
    return head[:2] in _RAW_DICOM_STARTS and len(head) >= 8


def has_suspicious_preamble(head: bytes) -> bool:
    """True for a non-zero preamble that is not a TIFF header (a DICOM/executable polyglot)."""
    if len(head) < 132 or head[128:132] != b"DICM":
        return False
    preamble = head[:128]
    return any(preamble) and not preamble.startswith(_TIFF_MAGICS)
