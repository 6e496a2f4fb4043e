"""Logs, pydicom warnings and crash tracebacks carry no identifier and no path component."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import RLELossless

from engine.io import load_radiograph
from engine.logs import RedactingFilter, forget_identifiers, redact
from engine.testing import fake_dicom

IDENTITY = {
    "PatientName": "TESTPATIENT^SECRET",
    "PatientID": "ID-424242",
    "PatientBirthDate": "19010101",
    "AccessionNumber": "ACC-987654",
    "InstitutionName": "Fake General Hospital",
    "ReferringPhysicianName": "DRWHO^FAKE",
}
# Folder and file names a careless export would have built from the identity.
FOLDER = "TESTPATIENT SECRET ID-424242"
FILE = "ACC-987654 fake general hospital.dcm"
NEEDLES = (
    "TESTPATIENT",
    "SECRET",
    "424242",
    "19010101",
    "987654",
    "Fake General",
    "fake general",
    "DRWHO",
    FOLDER,
)


def _assert_clean(text: str) -> None:
    for needle in NEEDLES:
        assert needle.lower() not in text.lower(), (needle, text)


def _truncated_compressed_dicom(folder: Path) -> Path:
    """RLE-compressed, cut inside its pixel data: pydicom warns quoting the file's path."""
    rows, columns = np.mgrid[0:64, 0:64]
    dataset = fake_dicom(((rows * columns) % 4096).astype(np.uint16), IDENTITY)
    dataset.compress(RLELossless)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE
    path.write_bytes(buffer.getvalue()[:-200])
    return path


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("Invalid value for VR DA: '19450203'", "Invalid value for VR DA", "19450203"),
        ("in file /data/DOE_JOHN/IM0001.dcm", "<path>.dcm", "DOE_JOHN"),
        (r"loading C:\Users\smith\x.dcm", "<path>.dcm", "smith"),
        ("(0010,0010) Patient's Name PN: 'DOE^JOHN'", "(0010,0010)", "DOE"),
        ("PatientID=MRN-55501 follows", "PatientID", "MRN-55501"),
        ("name DOE^JANE here", "name", "JANE"),
        ("uid 1.3.6.1.4.1.5962.99.1.2786334768.1849.3", "[uid]", "5962"),
        ("id 12345678 and +1 (555) 123-4567", "id", "4567"),
        ("wrote out/sub/patient_smith.png", "<path>.png", "smith"),
        ("file smith_john.dcm", "<file>.dcm", "smith"),
    ],
)
def test_redact_patterns(text, kept, gone):
    redacted = redact(text)
    assert kept in redacted
    assert gone not in redacted


def test_redact_keeps_what_is_needed_to_diagnose():
    text = (
        "image of 9000 x 9000 exceeds the pixel limit (64 Mpx); epoch 3/10; "
        "JPEG 2000 1.2.840.10008.1.2.4.90 via gdcm: RuntimeError"
    )
    assert redact(text) == text
    assert redact('File "/opt/x/engine/io/loader.py", line 3') == 'File "<path>/loader.py", line 3'


def test_identifiers_of_a_loaded_file_are_redacted_from_later_logs(tmp_path):
    forget_identifiers()
    path = tmp_path / "plain.dcm"
    fake_dicom(np.zeros((8, 8), np.uint16), IDENTITY).save_as(path, enforce_file_format=True)
    load_radiograph(path)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("cxr-explain-test-redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # Institution names fit no pattern: only the loader's memory of the file catches them.
        logger.warning("site %s, patient %s", "Fake General Hospital", "Testpatient")
        try:
            raise ValueError("value 'TESTPATIENT^SECRET' rejected")
        except ValueError:
            logger.exception("while reading %s", "/data/x/y.dcm")
    finally:
        logger.removeHandler(handler)
        forget_identifiers()
    output = stream.getvalue()
    assert "site [redacted], patient [redacted]" in output
    assert "Traceback" in output
    _assert_clean(output)


def _verbose_info(path: Path, isolation: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("cxr-explain")
    return subprocess.run(
        [str(script), "-v", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"CXR_EXPLAIN_DECODE_ISOLATION": isolation},
    )


def test_cli_logs_and_pydicom_warnings_are_redacted(tmp_path):
    """``cxr-explain -v info`` on a file whose folder, name and header carry fake identifiers,
    read in this process (isolation off): pydicom's warnings reach stderr, redacted."""
    path = _truncated_compressed_dicom(tmp_path / FOLDER)
    result = _verbose_info(path, "0")
    output = result.stdout + result.stderr
    # The test can fail: pydicom did warn, quoting the path (redacted).
    assert "End of file reached" in result.stderr, result.stderr
    assert "<path>.dcm" in result.stderr
    assert result.returncode == 2
    _assert_clean(output)
    assert str(tmp_path) not in output


def test_the_decoder_process_keeps_pydicom_warnings_to_itself(tmp_path):
    """Read in the decoder process (the default), the same file gives the one-line error and
    nothing of pydicom's warnings: the decoder's stderr is discarded."""
    path = _truncated_compressed_dicom(tmp_path / FOLDER)
    result = _verbose_info(path, "1")
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "End of file reached" not in output
    _assert_clean(output)
    assert str(tmp_path) not in output


def test_uncaught_exception_traceback_is_redacted(tmp_path):
    code = (
        "from engine.logs import install_redaction\n"
        "install_redaction()\n"
        "raise RuntimeError('cannot open /data/TESTPATIENT/scan.dcm for DOE^JOHN, ID-424242')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "RuntimeError: cannot open <path>.dcm for [redacted], [redacted]" in result.stderr
    _assert_clean(result.stderr)
