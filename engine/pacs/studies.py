"""What a query answers, as display-ready summaries (identifiers kept apart, as in the loader)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue):  # ModalitiesInStudy: CR\\SR
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def _count(dataset: Dataset, keyword: str) -> int | None:
    text = _text(dataset, keyword)
    return int(text) if text.isdigit() else None


@dataclass(frozen=True, slots=True)
class StudySummary:
    """One study of a query answer."""

    study_uid: str
    patient_name: str
    patient_id: str
    study_date: str
    study_time: str
    accession_number: str
    description: str
    modalities: str
    instances: int | None

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> StudySummary:
        return cls(
            study_uid=_text(dataset, "StudyInstanceUID"),
            patient_name=_text(dataset, "PatientName"),
            patient_id=_text(dataset, "PatientID"),
            study_date=_text(dataset, "StudyDate"),
            study_time=_text(dataset, "StudyTime"),
            accession_number=_text(dataset, "AccessionNumber"),
            description=_text(dataset, "StudyDescription"),
            modalities=_text(dataset, "ModalitiesInStudy"),
            instances=_count(dataset, "NumberOfStudyRelatedInstances"),
        )

    def as_dict(self, *, show_phi: bool = False) -> dict[str, Any]:
        """JSON-ready; identifying fields only with ``show_phi`` (as ``cxr-explain info``)."""
        fields = {
            "study_uid": self.study_uid,
            "modalities": self.modalities,
            "instances": self.instances,
        }
        if show_phi:
            fields |= {
                "patient_name": self.patient_name,
                "patient_id": self.patient_id,
                "study_date": self.study_date,
                "study_time": self.study_time,
                "accession_number": self.accession_number,
                "description": self.description,
            }
        return fields


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    """One series of a study."""

    series_uid: str
    modality: str
    number: int | None
    description: str
    instances: int | None

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> SeriesSummary:
        return cls(
            series_uid=_text(dataset, "SeriesInstanceUID"),
            modality=_text(dataset, "Modality"),
            number=_count(dataset, "SeriesNumber"),
            description=_text(dataset, "SeriesDescription"),
            instances=_count(dataset, "NumberOfSeriesRelatedInstances"),
        )
