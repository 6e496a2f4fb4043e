"""``cxr-explain info``: JSON on success, exit 2 with one ``error:`` line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.resources import sample_radiograph_path
from engine.testing import fake_dicom
from viewer.cli import main


def _fake_patient_dicom(path: Path) -> Path:
    identity = {"PatientName": "DOE^JANE^SECRET", "PatientID": "MRN-31337"}
    pixels = np.arange(64, dtype=np.uint16).reshape(8, 8)
    dataset = fake_dicom(
        pixels,
        identity,
        Modality="CR",
        PhotometricInterpretation="MONOCHROME1",
        BitsStored=12,
        HighBit=11,
        ImagerPixelSpacing=[0.139, 0.139],
    )
    dataset.save_as(path, enforce_file_format=True)
    return path


def test_info_prints_json_without_identity(tmp_path, capsys):
    path = _fake_patient_dicom(tmp_path / "study.dcm")
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["rows"] == 8
    assert report["modality"] == "CR"
    assert report["photometric_interpretation"] == "MONOCHROME1"
    assert report["inverted_polarity"] is True
    assert report["pixel_spacing_mm"] == {"row": 0.139, "column": 0.139, "measured": "detector"}
    assert report["windows"][0]["name"] == "auto"
    assert "SECRET" not in captured.out
    assert "MRN-31337" not in captured.out


def test_info_show_phi_adds_identity(tmp_path, capsys):
    path = _fake_patient_dicom(tmp_path / "study.dcm")
    assert main(["info", "--show-phi", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["patient_identity"]["PatientID"] == "MRN-31337"


@pytest.mark.parametrize("content", [b"", b"hello", bytes(range(256)) * 4])
def test_info_bad_input_exits_2_with_one_error_line(tmp_path, capsys, content):
    path = tmp_path / "bad.dcm"
    path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")


def test_info_missing_argument_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["info"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_installed_console_script_on_bundled_sample():
    """The console script as a user runs it, on the sample that ships in resources/."""
    assert sample_radiograph_path().is_file()
    script = Path(sys.executable).with_name("cxr-explain")
    result = subprocess.run(
        [str(script), "info", str(sample_radiograph_path())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "dicom"
    assert "PySide6" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_console_script_reports_output_it_could_not_write():
    """``info`` ends with os._exit (engine.cli.base.end_process): a stdout that cannot be written
    (a full disk) must give a non-zero exit and one error line, neither a silent success nor a
    traceback."""
    script = Path(sys.executable).with_name("cxr-explain")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [str(script), "info", str(sample_radiograph_path())],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode != 0
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
