"""Regenerate the bundled sample radiograph ``resources/samples/sample_cxr.dcm``.

Command (recorded so anyone can rebuild the sample bit for bit):
    .venv/bin/python packaging/make_sample.py

A synthetic phantom (no real patient data): 1024 x 1024 PA chest with ILO type q opacities,
profusion 2, upper-zone predominance; DX DICOM with obviously fake identifiers, JPEG 2000
lossless compressed so the sample also exercises the compressed-DICOM path.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.uid import JPEG2000Lossless

from engine.phantoms import DiseaseParams, IloType, generate_pair
from engine.phantoms.dicom import phantom_dataset
from engine.resources import sample_radiograph_path

SEED = 20261123
SIZE = 1024


def main() -> Path:
    phantom = generate_pair(SEED, DiseaseParams(profusion=2, opacity_type=IloType.Q), size=SIZE)
    dataset = phantom_dataset(phantom.image, index=1, seed=SEED, spacing_mm=phantom.spacing_mm)
    dataset.compress(JPEG2000Lossless)
    target = sample_radiograph_path()
    dataset.save_as(target, enforce_file_format=True)
    return target


if __name__ == "__main__":
    print(main())
