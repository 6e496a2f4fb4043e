"""Write a phantom as a DICOM DX image with realistic headers and obviously fake identifiers.

The identifiers (``PHANTOM^FAKE^0001``, ``FAKE-0001``, a fake birth date, "Synthetic Phantom
Hospital", an accession number) are there on purpose, so that PHI handling (anonymisation,
exports that must leave identity out) can be tested on these files. Everything is derived from
the data-set seed and the image index, so the same seed gives the same bytes.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

from engine import __version__
from engine.types import FloatImage

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
BITS_STORED = 12
MAGNIFICATION = 1.1  # typical PA geometry: detector pixel spacing / patient-plane spacing
INSTITUTION = "Synthetic Phantom Hospital"


def fake_identity(index: int, seed: int) -> dict[str, str]:
    """The fake patient and study identifiers of image ``index`` of a data set."""
    rng = np.random.default_rng([seed, index, 0xD1C0])
    birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 365 * 45)))
    study = datetime.date(2024, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 365)))
    return {
        "PatientName": f"PHANTOM^FAKE^{index:04d}",
        "PatientID": f"FAKE-{index:04d}",
        "PatientBirthDate": birth.strftime("%Y%m%d"),
        "AccessionNumber": f"FAKE{seed % 1000:03d}{index:06d}",
        "InstitutionName": INSTITUTION,
        "ReferringPhysicianName": "FAKE^REFERRER",
        "StudyDate": study.strftime("%Y%m%d"),
        "StudyTime": f"{int(rng.integers(8, 18)):02d}{int(rng.integers(0, 60)):02d}00",
        "StudyID": f"{index:06d}",
    }


def to_stored_values(image: FloatImage) -> np.ndarray:
    """``[0, 1]`` brightness to 12-bit stored values (uint16, 0..4095), MONOCHROME2."""
    top = (1 << BITS_STORED) - 1
    return np.rint(np.clip(image, 0.0, 1.0) * top).astype(np.uint16)


def phantom_dataset(
    image: FloatImage, *, index: int, seed: int, spacing_mm: float, sex: str = "O"
) -> Dataset:
    """A complete DX (for presentation) dataset holding ``image``."""
    stored = to_stored_values(image)
    identity = fake_identity(index, seed)

    def uid(kind: str) -> str:
        return str(generate_uid(entropy_srcs=["cxr-explain phantom", str(seed), str(index), kind]))

    sop_instance = uid("instance")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(DX_FOR_PRESENTATION)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.FrameOfReferenceUID = uid("frame")
    for keyword, value in identity.items():
        setattr(ds, keyword, value)
    ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = identity["StudyDate"]
    ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = identity["StudyTime"]
    ds.PatientSex = sex
    ds.PatientComments = "Synthetic phantom: not a real patient; identifiers are fake."
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "cxr-explain"
    ds.ManufacturerModelName = "Synthetic chest phantom"
    ds.SoftwareVersions = __version__
    ds.StudyDescription = "CHEST PA (SYNTHETIC PHANTOM)"
    ds.SeriesDescription = "PA"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.KVP = 120
    ds.DistanceSourceToDetector = 1800
    ds.DistanceSourceToPatient = round(1800 / MAGNIFICATION, 1)
    ds.EstimatedRadiographicMagnificationFactor = MAGNIFICATION
    ds.ImagerPixelSpacing = [round(spacing_mm * MAGNIFICATION, 6)] * 2
    ds.PixelSpacing = [round(spacing_mm, 6)] * 2
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = (int(n) for n in stored.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = BITS_STORED
    ds.HighBit = BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.WindowCenterWidthExplanation = "FULL RANGE"
    ds.PixelData = stored.tobytes()
    return ds


def write_dicom(
    path: Path, image: FloatImage, *, index: int, seed: int, spacing_mm: float, sex: str = "O"
) -> None:
    """Write ``image`` to ``path`` as a DICOM Part 10 file (zero preamble, Explicit VR LE)."""
    ds = phantom_dataset(image, index=index, seed=seed, spacing_mm=spacing_mm, sex=sex)
    ds.save_as(path, enforce_file_format=True)
