"""The engine's public surface for the viewer and other callers.

The viewer imports from here only; everything it receives is a frozen dataclass of read-only
numpy arrays (no tensors), and every failure is an ``EngineError`` with a one-line message.
"""

from engine.errors import (
    CancelledError,
    CorruptFileError,
    EngineError,
    ImageTooLargeError,
    InputError,
    MissingDecoderError,
    ModelError,
    UnsupportedFormatError,
)
from engine.io import DecodeBudget, load_radiograph
from engine.resources import default_models_dir, resource_path, sample_radiograph_path
from engine.types import (
    ImageInfo,
    PatientIdentity,
    PixelSpacing,
    Radiograph,
    SourceFormat,
    SpacingKind,
    VoiFunction,
    VoiPreset,
    apply_window,
)

__all__ = [
    "CancelledError",
    "CorruptFileError",
    "DecodeBudget",
    "EngineError",
    "ImageInfo",
    "ImageTooLargeError",
    "InputError",
    "MissingDecoderError",
    "ModelError",
    "PatientIdentity",
    "PixelSpacing",
    "Radiograph",
    "SourceFormat",
    "SpacingKind",
    "UnsupportedFormatError",
    "VoiFunction",
    "VoiPreset",
    "apply_window",
    "default_models_dir",
    "load_radiograph",
    "resource_path",
    "sample_radiograph_path",
]
