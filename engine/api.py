"""The engine's public surface for the viewer and other callers.

The viewer imports from here only; everything it receives is a frozen dataclass of read-only
numpy arrays (no tensors), and every failure is an ``EngineError`` with a one-line message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.atomic import atomic_path, write_text_atomically
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
from engine.explain.export import gif_description
from engine.explain.frames import FrameSequence
from engine.explain.gif import GifOptions, write_gif
from engine.explain.pipeline import (
    Counterfactual,
    Direction,
    ExplainRequest,
    ExplanationResult,
    explain,
)
from engine.explain.units import modality_change
from engine.explain.warning_codes import (
    OUT_OF_DISTRIBUTION_CODES,
    EngineWarning,
    WarningCode,
    code_of,
)
from engine.figan.explore import (
    ComponentFrame,
    ExploreRequest,
    FeatureExploration,
    FiganModels,
    explore,
    load_figan_models,
)
from engine.inference.model_set import ModelSet, load_model_set
from engine.io import DecodeBudget, load_radiograph
from engine.io.isolation import prestart as prestart_decoder
from engine.logs import redact
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

if TYPE_CHECKING:  # the PACS modules (pynetdicom, requests) load on first use, not with the viewer
    from engine.pacs.client import Pacs
    from engine.pacs.studies import StudySummary

__all__ = [
    "OUT_OF_DISTRIBUTION_CODES",
    "CancelledError",
    "ComponentFrame",
    "CorruptFileError",
    "Counterfactual",
    "DecodeBudget",
    "Direction",
    "EngineError",
    "EngineWarning",
    "ExplainRequest",
    "ExplanationResult",
    "ExploreRequest",
    "FeatureExploration",
    "FiganModels",
    "FrameSequence",
    "GifOptions",
    "ImageInfo",
    "ImageTooLargeError",
    "InputError",
    "MissingDecoderError",
    "ModelError",
    "ModelSet",
    "Pacs",
    "PatientIdentity",
    "PixelSpacing",
    "Radiograph",
    "SourceFormat",
    "SpacingKind",
    "StudySummary",
    "UnsupportedFormatError",
    "VoiFunction",
    "VoiPreset",
    "WarningCode",
    "apply_window",
    "atomic_path",
    "code_of",
    "connect_dicomweb",
    "connect_dimse",
    "default_models_dir",
    "explain",
    "explore",
    "gif_description",
    "load_figan_models",
    "load_model_set",
    "load_radiograph",
    "modality_change",
    "prestart_decoder",
    "redact",
    "resource_path",
    "sample_radiograph_path",
    "study_folder_name",
    "write_dicom_results",
    "write_gif",
    "write_text_atomically",
]


def write_dicom_results(
    result: ExplanationResult, radiograph: Radiograph, folder: Path, *, anonymize: bool = False
) -> list[Path]:
    """Write ``result`` as DICOM objects into ``folder / "dicom"`` (``engine.dicom_results``).

    highdicom is imported on the first call (about half a second), not with the viewer.
    """
    from engine.dicom_results.write import write_dicom_results as write

    return write(result, radiograph, folder, anonymize=anonymize)


def connect_dimse(host: str, port: int, called_aet: str, calling_aet: str) -> Pacs:
    """A PACS reached over DIMSE (C-ECHO / C-FIND / C-GET / C-STORE); nothing is sent yet."""
    from engine.pacs.client import Pacs
    from engine.pacs.server import DimseServer

    return Pacs(DimseServer(host, port, called_aet, calling_aet))


def connect_dicomweb(url: str) -> Pacs:
    """A PACS reached over DICOMweb (QIDO-RS / WADO-RS / STOW-RS) at ``url``."""
    from engine.pacs.client import Pacs
    from engine.pacs.dicomweb import DicomWebServer

    return Pacs(DicomWebServer(url))


def study_folder_name(study_uid: str) -> str:
    """A file-system-safe folder name for a retrieved study (the PACS cache's layout)."""
    from engine.pacs.files import instance_file_name

    return instance_file_name(study_uid).removesuffix(".dcm")
