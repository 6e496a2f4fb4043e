"""A real Orthanc PACS (Debian's ``orthanc`` and ``orthanc-dicomweb``) on free localhost ports.

The Makefile installs the packages; where they cannot be installed the PACS tests skip and say
why. Each test session starts one server with a temporary configuration and storage folder; each
test gets it emptied.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.pacs.server import DimseServer

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PACS_AET = "ORTHANCTEST"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Orthanc:
    dicom_port: int
    http_port: int
    folder: Path

    @property
    def dimse(self) -> DimseServer:
        return DimseServer("127.0.0.1", self.dicom_port, PACS_AET, timeout_s=10.0)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.http}/dicom-web"

    def rest(self, method: str, path: str) -> object:
        request = urllib.request.Request(self.http + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _configuration(folder: Path, dicom_port: int, http_port: int) -> dict[str, object]:
    return {
        "Name": "cxr-explain test PACS",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "DicomAet": PACS_AET,
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomServerEnabled": True,
        "HttpServerEnabled": True,
        "Plugins": [str(DICOMWEB_PLUGIN)] if DICOMWEB_PLUGIN.is_file() else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "StableAge": 1,
        "SaveJobs": False,
    }


def _wait_until_up(server: Orthanc, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited at start: {log.read_text()[-2000:]}")
        try:
            server.rest("GET", "/system")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"Orthanc did not answer in {START_TIMEOUT_S} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def orthanc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    if ORTHANC is None:
        pytest.skip("Orthanc is not installed (make test installs Debian's orthanc packages)")
    folder = tmp_path_factory.mktemp("orthanc")
    server = Orthanc(_free_port(), _free_port(), folder)
    config = folder / "orthanc.json"
    config.write_text(json.dumps(_configuration(folder, server.dicom_port, server.http_port)))
    log = folder / "orthanc.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [ORTHANC, str(config)], stdout=output, stderr=subprocess.STDOUT, cwd=folder
        )
    try:
        _wait_until_up(server, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def orthanc(orthanc_server: Orthanc) -> Orthanc:
    """The session's Orthanc, emptied."""
    studies = orthanc_server.rest("GET", "/studies")
    assert isinstance(studies, list)
    for study in studies:
        orthanc_server.rest("DELETE", f"/studies/{study}")
    return orthanc_server
