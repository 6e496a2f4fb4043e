"""The decode budget: what the loader refuses before it allocates anything.

Chest radiographs are at most about 4300 x 3500 pixels (15 Mpx); mammography and long-leg
stitches reach about 40 Mpx. The default pixel limit (64 Mpx, 256 MB as float32) covers them with
margin while refusing files whose headers declare sizes far beyond memory.

The last two limits bound the decoder process (``engine.io.isolation``) that reads DICOM files
(header parse, inflation of deflated files, native codecs, modality values): a wall-clock limit
per file, and an address-space allowance on top of what the process has mapped (Linux). 30 s is
about 80 times the slowest decode in docs/benchmarks.md (0.6 s for a 2000 x 2000 lossless JPEG
2000 on two cores), leaving room for 40 Mpx images on a busy machine; 3 GB holds the largest
in-budget case (a 1 GB inflated body, the 64 Mpx 16-bit frame and its 256 MB of float32 modality
values) with room to spare.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_PIXELS = 64 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
# A deflated DICOM is inflated in memory by pydicom; a 195 KB file was seen to need 1.5 GB.
DEFAULT_MAX_INFLATED_BYTES = 1024**3
DEFAULT_MAX_DECODE_SECONDS = 30.0
DEFAULT_MAX_DECODE_MEMORY_BYTES = 3 * 1024**3


@dataclass(frozen=True, slots=True)
class DecodeBudget:
    """Upper bounds checked against headers before any pixel decoder runs, and the limits of
    the isolated decoder process."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES
    max_decode_seconds: float = DEFAULT_MAX_DECODE_SECONDS
    max_decode_memory_bytes: int = DEFAULT_MAX_DECODE_MEMORY_BYTES

    def __post_init__(self) -> None:
        for name in (
            "max_pixels",
            "max_file_bytes",
            "max_inflated_bytes",
            "max_decode_seconds",
            "max_decode_memory_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
