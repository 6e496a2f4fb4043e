"""Which DICOM attributes identify a patient, after DICOM PS3.15 Annex E (basic profile).

The list holds the attributes of the basic profile that occur in projection radiography headers.
The loader copies these (when present) into ``PatientIdentity`` and nowhere else; everything the
viewer, exports and logs show comes from ``ImageInfo``, which never holds them.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from engine.types import PatientIdentity

IDENTIFYING_KEYWORDS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "MilitaryRank",
    "EthnicGroup",
    "PatientComments",
    "MedicalRecordLocator",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "AcquisitionDateTime",
    "ContentDate",
    "ContentTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "StudyDescription",
    "SeriesDescription",
    "RequestedProcedureDescription",
    "PerformedProcedureStepDescription",
    "ImageComments",
    "AdditionalPatientHistory",
    "AdmittingDiagnosesDescription",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "StationName",
    "DeviceSerialNumber",
    "ProtocolName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "DerivationDescription",
)


def extract_identity(dataset: Dataset) -> PatientIdentity:
    """Copy the identifying attributes present in ``dataset`` as display strings."""
    fields: list[tuple[str, str]] = []
    for keyword in IDENTIFYING_KEYWORDS:
        element = dataset.get(keyword)
        if element is None or element == "":
            continue
        text = str(element).strip()
        if text:
            fields.append((keyword, text))
    return PatientIdentity(tuple(fields))
