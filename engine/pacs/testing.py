"""A throw-away Orthanc PACS for tests and self-tests (Debian's ``orthanc``, ``orthanc-dicomweb``).

:func:`run_orthanc` starts one on free localhost ports with a temporary configuration and storage
folder and stops it on exit. Nothing here is used by the viewer or the commands.
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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

    def empty(self) -> None:
        """Delete every study."""
        studies = self.rest("GET", "/studies")
        for study in studies if isinstance(studies, list) else []:
            self.rest("DELETE", f"/studies/{study}")

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


def orthanc_available() -> bool:
    return ORTHANC is not None


@contextmanager
def run_orthanc(folder: Path) -> Iterator[Orthanc]:
    """An Orthanc serving from ``folder`` until the block ends."""
    if ORTHANC is None:
        raise RuntimeError("Orthanc is not installed (Debian: apt-get install orthanc)")
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
