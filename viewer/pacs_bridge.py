"""The viewer's PACS jobs: what runs on the worker for the PACS dialog and for sending results.

The engine's PACS modules (pynetdicom, requests) are imported on the first use (through
``engine.api``), not with the viewer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine import api
from viewer.pacs_dialog import PacsServerSpec, Protocol

if TYPE_CHECKING:
    from viewer.worker import JobContext


def connect(spec: PacsServerSpec) -> api.Pacs:
    if spec.protocol is Protocol.DICOMWEB:
        return api.connect_dicomweb(spec.url)
    return api.connect_dimse(spec.host, spec.port, spec.called_aet, spec.calling_aet)


def search(spec: PacsServerSpec, filters: dict[str, str]) -> list[api.StudySummary]:
    return connect(spec).find_studies(filters)


def retrieve(spec: PacsServerSpec, study_uid: str, cache: Path, job: JobContext) -> Path:
    """The study's instances into ``cache / <study UID>``; returns that folder."""
    folder = cache / api.study_folder_name(study_uid)

    def progress(done: int, total: int) -> None:
        job.report_progress(done / total if total else 0.0, f"retrieved {done}")

    connect(spec).get_study(study_uid, folder, progress=progress, cancel=job.cancel)
    return folder


def send_results(
    spec: PacsServerSpec, result: api.ExplanationResult, radiograph: api.Radiograph
) -> int:
    """Write the explanation's DICOM objects (the patient's study) and store them."""
    with tempfile.TemporaryDirectory(prefix="cxr-explain-send-") as folder:
        files = api.write_dicom_results(result, radiograph, Path(folder))
        return connect(spec).send(files)
