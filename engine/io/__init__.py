"""Reading radiographs: DICOM, PNG, JPEG and TIFF into one ``Radiograph`` value.

The package's names load on first use, and none of them imports pydicom: DICOM files are read
in the decoder process (``engine.io.isolation``); only an in-process read (isolation off) loads
``engine.io.dicom`` and with it pydicom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.io.limits import DecodeBudget
    from engine.io.loader import load_radiograph, start_loading

__all__ = ["DecodeBudget", "load_radiograph", "start_loading"]


def __getattr__(name: str) -> Any:
    if name in ("load_radiograph", "start_loading"):
        from engine.io import loader

        return getattr(loader, name)
    if name == "DecodeBudget":
        from engine.io.limits import DecodeBudget

        return DecodeBudget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
