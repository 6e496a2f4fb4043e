"""Faults a real PACS does not produce on demand: a DICOM peer that drops the association in the
middle of a C-GET, and a DICOMweb service that answers 500. Both are real servers on localhost
(a pynetdicom SCP, an HTTP server), misbehaving on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

from engine.pacs import dicomweb, dimse
from engine.pacs.errors import PacsError
from engine.pacs.server import DimseServer
from engine.testing import fake_dicom

STUDY = "1.2.826.0.1.3680043.9.7316.7.1"


def _instance() -> Dataset:
    dataset = fake_dicom(np.zeros((8, 8), np.uint16), StudyInstanceUID=STUDY)
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = generate_uid()
    return dataset


@pytest.fixture
def dropping_scp() -> Iterator[int]:
    """A C-GET SCP that announces three instances, sends one, then aborts the association."""

    def on_get(event: evt.Event) -> Iterator[object]:
        yield 3
        yield 0xFF00, _instance()
        event.assoc.abort()
        yield 0xA702, None  # never reached by a peer: the association is gone

    ae = AE(ae_title="DROPPER")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    # The requestor (we) takes the storage SCP role for the C-GET's sub-operations.
    ae.add_supported_context(
        SecondaryCaptureImageStorage, ExplicitVRLittleEndian, scp_role=True, scu_role=False
    )
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_GET, on_get)])
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()


def test_an_association_dropped_mid_get_leaves_no_file(dropping_scp: int, tmp_path: Path) -> None:
    server = DimseServer("127.0.0.1", dropping_scp, "DROPPER", timeout_s=5)
    received: list[int] = []
    with pytest.raises(PacsError, match=r"lost|aborted|no answer"):
        dimse.get_study(
            server, STUDY, tmp_path / "got", progress=lambda done, _total: received.append(done)
        )
    assert received == [1]  # one instance arrived before the drop, and was removed again
    assert not list((tmp_path / "got").iterdir())


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_a_dicomweb_500_is_one_line() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        server = dicomweb.DicomWebServer(f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web")
        with pytest.raises(PacsError, match="HTTP 500") as raised:
            dicomweb.find_studies(server)
        assert "\n" not in str(raised.value)
    finally:
        httpd.shutdown()
        httpd.server_close()
