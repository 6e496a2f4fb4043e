"""Reading radiographs: DICOM, PNG, JPEG and TIFF into one ``Radiograph`` value.

The package's names load on first use: importing ``engine.io.isolation`` (to start the decoder
process early) must not pay for pydicom, which ``load_radiograph`` needs.
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
