"""The same four operations over DICOMweb (dicomweb-client): QIDO-RS, WADO-RS, STOW-RS.

Queries ask once, without dicomweb-client's paging (``get_remaining``): against Orthanc's
DICOMweb plugin (Debian 1.x) a paged study query never ended.

A server's HTTP errors, refused connections and timeouts become :class:`PacsError` with one line;
a retrieval that fails part-way removes the files it wrote, as over DIMSE.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from engine.atomic import atomic_path
from engine.errors import CancelledError, InputError
from engine.pacs.errors import PacsError
from engine.pacs.files import instance_file_name, read_for_sending, staged_into
from engine.pacs.studies import SeriesSummary, StudySummary

Progress = Callable[[int, int], None]
DEFAULT_TIMEOUT_S = 20.0


class DicomWebServer:
    """A DICOMweb service at ``url`` (e.g. ``http://pacs:8042/dicom-web``)."""

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--dicomweb must be an http(s) URL, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    @property
    def label(self) -> str:
        return self.url

    def client(self) -> DICOMwebClient:
        return DICOMwebClient(self.url, timeout=self.timeout_s)


@contextmanager
def _errors(server: DicomWebServer, what: str) -> Iterator[None]:
    try:
        yield
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise PacsError(f"{server.label}: {what} failed with HTTP {status}") from None
    except requests.ConnectionError:
        raise PacsError(f"cannot reach {server.label} (connection refused or lost)") from None
    except requests.Timeout:
        raise PacsError(f"{server.label} did not answer within {server.timeout_s:g} s") from None
    except requests.RequestException as error:
        raise PacsError(f"{server.label}: {what} failed ({type(error).__name__})") from None
    except ValueError:  # an answer that is not DICOM JSON / multipart (not a DICOMweb service?)
        raise PacsError(f"{server.label}: {what} gave an answer that is not DICOMweb") from None


def echo(server: DicomWebServer) -> None:
    """A one-study QIDO query: the service answers, or :class:`PacsError`."""
    with _errors(server, "QIDO-RS"):
        server.client().search_for_studies(limit=1)


def find_studies(
    server: DicomWebServer, filters: dict[str, str] | None = None
) -> list[StudySummary]:
    with _errors(server, "QIDO-RS"):
        answers = server.client().search_for_studies(
            search_filters=filters or {},
            fields=["ModalitiesInStudy", "NumberOfStudyRelatedInstances", "StudyDescription"],
        )
    return [StudySummary.from_dataset(Dataset.from_json(answer)) for answer in answers]


def find_series(server: DicomWebServer, study_uid: str) -> list[SeriesSummary]:
    with _errors(server, "QIDO-RS"):
        answers = server.client().search_for_series(
            study_uid, fields=["NumberOfSeriesRelatedInstances"]
        )
    return [SeriesSummary.from_dataset(Dataset.from_json(answer)) for answer in answers]


def get_study(
    server: DicomWebServer,
    study_uid: str,
    out: Path,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[Path]:
    """WADO-RS every instance of a study into ``out`` (``<SOP Instance UID>.dcm``)."""
    written: list[Path] = []
    with staged_into(out) as staging, _errors(server, "WADO-RS"):
        for dataset in server.client().iter_study(study_uid):
            if cancel is not None and cancel.is_set():
                raise CancelledError("the retrieval was cancelled")
            path = staging / instance_file_name(str(dataset.SOPInstanceUID))
            with atomic_path(path) as temporary:
                dataset.save_as(temporary, enforce_file_format=True)
            written.append(path)
            if progress is not None:
                progress(len(written), 0)
        if not written:
            raise PacsError(f"{server.label} has no instances of study {study_uid} (deleted?)")
    return [out / path.name for path in written]


def send(server: DicomWebServer, paths: Sequence[Path]) -> int:
    """STOW-RS every file; returns the number stored."""
    datasets = [read_for_sending(path) for path in paths]
    with _errors(server, "STOW-RS"):
        response = server.client().store_instances(datasets)
    failed = response.get("FailedSOPSequence", [])
    if failed:
        raise PacsError(f"{server.label} refused {len(failed)} of {len(datasets)} instance(s)")
    return len(datasets)
