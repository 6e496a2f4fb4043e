"""The source image as a DICOM result refers to it: patient, study and image references.

highdicom builds every derived object from a *source image* dataset, copying its patient and study
modules and referencing its SOP instance. The decoder process never hands a pydicom dataset to the
caller (``engine.io.isolation``), so the source is rebuilt here from what the loader kept: the
identifying fields in ``Radiograph.identity`` (patient, study, UIDs) and the display-safe
``Radiograph.info`` (size, modality, SOP class, spacing).

Three cases:

- a DICOM file: the results join the file's study (same Study Instance UID) and reference it;
- any other file (PNG, a phantom): a new study with a made-up identity; its UIDs and patient ID
  are derived from the pixels, so exporting the same image twice files both into one study;
- ``anonymize``: the patient and study modules are replaced after the basic profile of DICOM
  PS3.15 Annex E (the attributes of ``engine.io.phi``): names, IDs, dates and descriptions go, the
  patient ID becomes a random pseudonym and every UID a new one (the objects of one export share
  their study); nothing in them can be traced back to the source by recomputation.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, generate_uid

from engine.types import Radiograph

# New UIDs are pydicom's generate_uid under its root; with entropy sources it is deterministic.
_COMPUTED_RADIOGRAPHY = "1.2.840.10008.5.1.4.1.1.1"
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: Attribute values of a study that has no identity of its own (a PNG or a phantom).
NO_IDENTITY_NAME = "Anonymous^Synthetic"
DEIDENTIFICATION_METHOD = "PS3.15 Basic Application Confidentiality Profile (cxr-explain)"
#: The de-identification method code of the basic profile (PS3.16 CID 7050).
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

# Patient and study attributes copied from a DICOM source (when present) into the results.
_PATIENT_STUDY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyInstanceUID",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


@dataclass(frozen=True, slots=True)
class SourceReference:
    """The source dataset for highdicom and what kind of identity it carries.

    ``dataset``: patient, study, series and SOP identification plus the image size; no pixels.
    ``from_dicom``: the identity is the file's own (False: made up for a non-DICOM image).
    ``anonymized``: the identity was replaced (PS3.15 basic profile).
    """

    dataset: Dataset
    from_dicom: bool
    anonymized: bool


def source_reference(radiograph: Radiograph, *, anonymize: bool = False) -> SourceReference:
    """The source of ``radiograph``'s results (see the module docstring)."""
    identity = radiograph.identity.as_dict()
    from_dicom = all(
        identity.get(k) for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    )
    dataset = Dataset()
    if from_dicom:
        for keyword in _PATIENT_STUDY_KEYWORDS:
            if identity.get(keyword):
                setattr(dataset, keyword, identity[keyword])
        dataset.SeriesInstanceUID = identity["SeriesInstanceUID"]
        dataset.SOPInstanceUID = identity["SOPInstanceUID"]
        dataset.SOPClassUID = radiograph.info.sop_class_uid or _COMPUTED_RADIOGRAPHY
    else:
        seed = _pixel_digest(radiograph)
        dataset.PatientName = NO_IDENTITY_NAME
        dataset.PatientID = f"CXR-{seed[:12].upper()}"
        dataset.StudyInstanceUID = generate_uid(entropy_srcs=[seed, "study"])
        dataset.SeriesInstanceUID = generate_uid(entropy_srcs=[seed, "series"])
        dataset.SOPInstanceUID = generate_uid(entropy_srcs=[seed, "instance"])
        dataset.SOPClassUID = _SECONDARY_CAPTURE
        dataset.StudyID = ""
    _ensure_type2(dataset)
    dataset.Modality = radiograph.info.modality or "OT"
    dataset.Rows = radiograph.info.rows
    dataset.Columns = radiograph.info.columns
    if anonymize:
        _deidentify(dataset)
    return SourceReference(dataset, from_dicom, anonymize)


def derived_uid(source: Dataset, *parts: str) -> UID:
    """A new UID, the same for the same source and parts (re-exports replace, not duplicate)."""
    return generate_uid(entropy_srcs=[str(source.SOPInstanceUID), *parts])


def _pixel_digest(radiograph: Radiograph) -> str:
    pixels = np.ascontiguousarray(radiograph.pixels, dtype=np.float32)
    return hashlib.sha256(pixels.tobytes()).hexdigest()


def _ensure_type2(dataset: Dataset) -> None:
    """Patient and study attributes DICOM requires to be present, empty when unknown."""
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
    ):
        if keyword not in dataset:
            setattr(dataset, keyword, "")


def _deidentify(dataset: Dataset) -> None:
    """Replace the identifying attributes (PS3.15 E.1-1, basic profile): ``D`` dummies for the
    patient's name and ID, ``Z`` empties for dates and study IDs, ``X`` removals, ``U`` UIDs."""
    # A random pseudonym: a hash of the patient ID could be reversed by hashing every candidate
    # (hospital IDs are short). Each export is its own pseudonymous patient.
    dataset.PatientName = "Anonymous^"
    dataset.PatientID = f"ANON-{secrets.token_hex(6).upper()}"
    for keyword in ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "StudyID"):
        setattr(dataset, keyword, "")
    dataset.AccessionNumber = ""
    dataset.ReferringPhysicianName = ""
    for keyword in ("IssuerOfPatientID", "PatientAge", "StudyDescription"):
        if keyword in dataset:
            delattr(dataset, keyword)
    salt = secrets.token_hex(16)  # the new UIDs cannot be recomputed from the old ones
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        original = str(dataset.get(keyword))
        setattr(dataset, keyword, generate_uid(entropy_srcs=[salt, original]))
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = DEIDENTIFICATION_METHOD
    method = Dataset()
    method.CodeValue, method.CodingSchemeDesignator, method.CodeMeaning = BASIC_PROFILE_CODE
    dataset.DeidentificationMethodCodeSequence = [method]
