"""Generators for the DICOM and raster files the loader tests read (no binaries checked in)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from engine.testing import fake_dicom

FAKE_IDENTITY = {
    "PatientName": "TESTPATIENT^SECRET",
    "PatientID": "ID-424242",
    "PatientBirthDate": "19010101",
    "AccessionNumber": "ACC-987654",
    "InstitutionName": "Fake General Hospital",
}

MakeDicom = Callable[..., Path]


def build_dataset(pixels: np.ndarray, **attributes: Any) -> Dataset:
    """A minimal valid grayscale DICOM dataset around ``pixels`` with the fake identity."""
    return fake_dicom(pixels, FAKE_IDENTITY, **attributes)


@pytest.fixture
def make_dicom(tmp_path: Path) -> MakeDicom:
    """``make_dicom(pixels, name=..., **attributes) -> Path`` writes a DICOM file."""
    counter = iter(range(10_000))

    def _make(pixels: np.ndarray, name: str | None = None, **attributes: Any) -> Path:
        ds = build_dataset(pixels, **attributes)
        path = tmp_path / (name or f"image_{next(counter)}.dcm")
        ds.save_as(path, enforce_file_format=True)
        return path

    return _make


@pytest.fixture
def ramp() -> np.ndarray:
    """A 32 x 64 uint16 horizontal ramp 0..4095 (12-bit)."""
    row = np.linspace(0, 4095, 64).astype(np.uint16)
    return np.tile(row, (32, 1))
