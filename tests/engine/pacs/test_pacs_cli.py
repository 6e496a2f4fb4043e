"""The whole trip through ``cxr-explain pacs`` and a real Orthanc, over DIMSE and DICOMweb:
store the real chest CR, find it, get it, explain it, send the results, find and read them back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from engine.cli.main import main
from engine.pacs.client import Pacs
from engine.pacs.dicomweb import DicomWebServer
from engine.pacs.testing import PACS_AET, Orthanc
from engine.testing import write_tiny_models

CHEST_CR = Path(get_testdata_file("RG1_UNCR.dcm"))


def _dimse(orthanc: Orthanc) -> list[str]:
    return ["--server", f"127.0.0.1:{orthanc.dicom_port}", "--called-aet", PACS_AET]


def _json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def _numbers(dataset: pydicom.Dataset) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in dataset.get("ContentSequence", []):
        if item.ValueType == "NUM":
            code = item.ConceptNameCodeSequence[0].CodeValue
            found.setdefault(code, float(item.MeasuredValueSequence[0].NumericValue))
        for code, value in _numbers(item).items():
            found.setdefault(code, value)
    return found


@pytest.mark.parametrize("protocol", ["dimse", "dicomweb"])
def test_round_trip_store_find_get_explain_send_read_back(
    orthanc: Orthanc, tmp_path: Path, capsys: pytest.CaptureFixture[str], protocol: str
) -> None:
    where = _dimse(orthanc) if protocol == "dimse" else ["--dicomweb", orthanc.dicomweb]
    source = pydicom.dcmread(CHEST_CR, stop_before_pixels=True)
    study = str(source.StudyInstanceUID)

    assert main(["pacs", "echo", *where]) == 0
    assert main(["pacs", "send", *where, str(CHEST_CR)]) == 0
    assert main(["pacs", "find", *where]) == 0
    found = _json_lines(capsys)[-1]
    assert found["study_uid"] == study
    assert "patient_id" not in found  # no identifiers unless asked
    assert main(["pacs", "find", *where, "--show-phi", "--modality", "CR"]) == 0
    assert _json_lines(capsys)[-1]["patient_id"] == str(source.PatientID)

    got = tmp_path / "got"
    assert main(["pacs", "get", *where, "--study", study, "--out", str(got), "--no-progress"]) == 0
    assert _json_lines(capsys)[-1]["instances"] == 1
    retrieved = got / f"{source.SOPInstanceUID}.dcm"

    models = write_tiny_models(tmp_path / "models")
    out = tmp_path / "explained"
    argv = ["explain", str(retrieved), "--out", str(out), "--models", str(models), "--frames", "3"]
    assert main([*argv, "--dicom"]) == 0
    capsys.readouterr()
    assert main(["pacs", "send", *where, str(out / "dicom")]) == 0
    assert _json_lines(capsys)[-1]["stored"] == 5

    pacs = Pacs(
        orthanc.dimse if protocol == "dimse" else DicomWebServer(orthanc.dicomweb, timeout_s=10)
    )
    modalities = sorted(s.modality for s in pacs.find_series(study))
    assert modalities == ["CR", "OT", "OT", "OT", "SEG", "SR"]  # SC and PM are OT
    back = pacs.get_study(study, tmp_path / "back")
    read = [pydicom.dcmread(p) for p in back]
    objects = {str(d.get("SeriesDescription", "")): d for d in read}
    by_kind = {name.split(" - ")[0]: dataset for name, dataset in objects.items()}
    with Image.open(out / "difference.tiff") as tiff:
        difference = np.asarray(tiff, dtype=np.float32)
    map_pixels = by_kind["cxr-explain difference map"].pixel_array
    np.testing.assert_array_equal(map_pixels, difference)
    stats = json.loads((out / "stats.json").read_text())
    numbers = _numbers(by_kind["cxr-explain report"])
    assert numbers["P-PNEUMO"] == pytest.approx(stats["probability_pneumoconiosis"], abs=1e-6)


def test_bad_server_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pacs", "echo", "--server", "localhost"]) == 2
    assert main(["pacs", "echo", "--server", "localhost:104"]) == 2
    assert main(["pacs", "echo", "--dicomweb", "ftp://x"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert "HOST:PORT" in errors[0] or "--called-aet" in errors[0]
    assert "--called-aet" in errors[1]
    assert "http" in errors[2]


def test_dicomweb_server_error_is_one_line(
    orthanc: Orthanc, capsys: pytest.CaptureFixture[str]
) -> None:
    # A path the DICOMweb plugin does not serve: the server answers 404.
    assert main(["pacs", "find", "--dicomweb", orthanc.http + "/no-such-service"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "HTTP 404" in error[0]
