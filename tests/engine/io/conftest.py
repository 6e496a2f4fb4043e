"""Generators for the DICOM and raster files the loader tests read (no binaries checked in)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

FAKE_IDENTITY = {
    "PatientName": "TESTPATIENT^SECRET",
    "PatientID": "ID-424242",
    "PatientBirthDate": "19010101",
    "AccessionNumber": "ACC-987654",
    "InstitutionName": "Fake General Hospital",
}

MakeDicom = Callable[..., Path]


def build_dataset(pixels: np.ndarray, **attributes: Any) -> Dataset:
    """A minimal valid grayscale DICOM dataset around ``pixels`` (uint16/int16/uint8, 2-D)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    for keyword, value in FAKE_IDENTITY.items():
        setattr(ds, keyword, value)
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


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
