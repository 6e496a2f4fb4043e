"""Find bundled resources both from a source checkout and inside a PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    """Return the ``resources/`` folder.

    PyInstaller unpacks data files under ``sys._MEIPASS``; a source checkout keeps them beside the
    ``engine`` package. No other module builds resource paths itself.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a file under ``resources/`` (it may not exist; callers report that)."""
    return resources_root().joinpath(*parts)


def sample_radiograph_path() -> Path:
    """The bundled synthetic sample radiograph (no real patient data)."""
    return resource_path("samples", "sample_cxr.dcm")


def default_models_dir() -> Path:
    """The shipped default model bundles."""
    return resource_path("models")
