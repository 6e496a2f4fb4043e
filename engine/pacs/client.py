"""One interface over both protocols: what the CLI and the viewer call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.pacs import dicomweb, dimse
from engine.pacs.dicomweb import DicomWebServer
from engine.pacs.server import DimseServer
from engine.pacs.studies import SeriesSummary, StudySummary

Progress = Callable[[int, int], None]  # (instances received, instances expected or 0)


@dataclass(frozen=True, slots=True)
class Pacs:
    """A PACS over DIMSE (``DimseServer``) or DICOMweb (``DicomWebServer``)."""

    server: DimseServer | DicomWebServer

    @property
    def label(self) -> str:
        return self.server.label

    def echo(self) -> None:
        if isinstance(self.server, DimseServer):
            dimse.echo(self.server)
        else:
            dicomweb.echo(self.server)

    def find_studies(self, filters: dict[str, str] | None = None) -> list[StudySummary]:
        if isinstance(self.server, DimseServer):
            return dimse.find_studies(self.server, filters)
        return dicomweb.find_studies(self.server, filters)

    def find_series(self, study_uid: str) -> list[SeriesSummary]:
        if isinstance(self.server, DimseServer):
            return dimse.find_series(self.server, study_uid)
        return dicomweb.find_series(self.server, study_uid)

    def get_study(
        self,
        study_uid: str,
        out: Path,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Path]:
        if isinstance(self.server, DimseServer):
            return dimse.get_study(self.server, study_uid, out, progress=progress, cancel=cancel)
        return dicomweb.get_study(self.server, study_uid, out, progress=progress, cancel=cancel)

    def send(self, paths: Sequence[Path]) -> int:
        if isinstance(self.server, DimseServer):
            return dimse.send(self.server, paths)
        return dicomweb.send(self.server, paths)
