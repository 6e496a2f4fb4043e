"""Helpers for tests of code built on the engine (like ``numpy.testing``): tiny model sets and
synthetic DICOM datasets with fake identifiers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from engine.inference.model_set import CLASSIFIER_ID, SEGMENTER_ID, TO_DISEASE_ID, TO_HEALTHY_ID
from engine.models import BundleConfig, save_bundle
from engine.networks import Architecture, build_network

TINY_MODELS = {
    SEGMENTER_ID: (Architecture.UNET, {"out_channels": 2, "base_width": 4, "depth": 2}),
    CLASSIFIER_ID: (Architecture.CLASSIFIER, {"base_width": 4, "n_stages": 2, "feature_dim": 8}),
    TO_DISEASE_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
    TO_HEALTHY_ID: (Architecture.GENERATOR, {"base_width": 4, "n_residual_blocks": 1}),
}


def write_tiny_models(folder: Path, size: int = 32, seed: int = 0) -> Path:
    """Write randomly initialised, tiny versions of the four bundles an explanation needs."""
    torch.manual_seed(seed)
    for model_id, (architecture, kwargs) in TINY_MODELS.items():
        config = BundleConfig(
            model_id=model_id,
            architecture=architecture,
            architecture_kwargs=kwargs,
            input_size=(size, size),
            normalisation={"input": "display [0,1] * 2 - 1"},
            labels=("healthy", "pneumoconiosis"),
        )
        save_bundle(build_network(architecture, kwargs), folder, config)
    return folder


def fake_dicom(
    pixels: np.ndarray, identity: dict[str, str] | None = None, **attributes: Any
) -> Dataset:
    """A minimal valid grayscale DICOM dataset around 2-D ``pixels`` (uint8/uint16/int16).

    ``identity``: patient-identifying attributes to plant (fake values, for privacy tests);
    ``attributes``: any further or overriding DICOM attributes by keyword.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.preamble = b"\0" * 128
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    for keyword, value in (identity or {}).items():
        setattr(dataset, keyword, value)
    dataset.Rows, dataset.Columns = pixels.shape[:2]
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    bits = pixels.dtype.itemsize * 8
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = bits, bits, bits - 1
    dataset.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    dataset.PixelData = np.ascontiguousarray(pixels).tobytes()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset
