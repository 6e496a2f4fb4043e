"""A DICOM header's identifying attributes (``engine.phi_keywords``) as a ``PatientIdentity``.

The loader copies these (when present) into ``PatientIdentity`` and nowhere else; everything the
viewer, exports and logs show comes from ``ImageInfo``, which never holds them.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from engine.phi_keywords import IDENTIFYING_KEYWORDS
from engine.types import PatientIdentity

__all__ = ["IDENTIFYING_KEYWORDS", "extract_identity"]


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
