"""Reading radiographs: DICOM, PNG, JPEG and TIFF into one ``Radiograph`` value."""

from engine.io.limits import DecodeBudget
from engine.io.loader import load_radiograph

__all__ = ["DecodeBudget", "load_radiograph"]
