"""An explanation as DICOM objects: in the source's study, values read back equal, valid objects,
no identifier with --anonymize."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from engine.cli.main import main
from engine.dicom_results.source import NO_IDENTITY_NAME
from engine.dicom_results.write import DICOM_FILES, write_dicom_results
from engine.explain.pipeline import ExplanationResult, explain
from engine.explain.request import ExplainRequest
from engine.inference.model_set import ModelSet
from engine.io import load_radiograph
from engine.testing import fake_dicom, write_tiny_models
from engine.types import Radiograph

IDENTITY = {
    "PatientName": "DICOMOUT^JANE",
    "PatientID": "PID-5531907",
    "PatientBirthDate": "19410203",
    "AccessionNumber": "ACCN-771204",
    "StudyID": "STUDY-90311",
    "StudyDate": "20200115",
    "ReferringPhysicianName": "REFERRER^FAKE",
    "StudyInstanceUID": "1.2.826.0.1.3680043.9.7316.1.77",
    "SeriesInstanceUID": "1.2.826.0.1.3680043.9.7316.2.77",
}


def _lungs() -> np.ndarray:
    rows, columns = np.mgrid[0:60, 0:44]
    lungs = np.zeros((60, 44), bool)
    for centre in (13, 31):
        lungs |= ((columns - centre) / 8.0) ** 2 + ((rows - 28) / 18.0) ** 2 < 1
    return lungs


def _write_dicom(path: Path) -> Path:
    pixels = np.where(_lungs(), 900, 3000).astype(np.uint16)
    pixels += np.random.default_rng(0).integers(0, 40, pixels.shape).astype(np.uint16)
    dataset = fake_dicom(pixels, IDENTITY, BitsStored=12, HighBit=11)
    dataset.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def dicom_source(tmp_path: Path) -> Radiograph:
    return load_radiograph(_write_dicom(tmp_path / "image.dcm"))


def _explained(radiograph: Radiograph, models: ModelSet) -> ExplanationResult:
    """An explanation with the drawn lungs (the tiny models' segmenter finds none)."""
    lungs = _lungs() if radiograph.shape == (60, 44) else None
    return explain(radiograph, models, ExplainRequest(n_frames=3), lung_mask=lungs)


def _read(folder: Path) -> dict[str, Dataset]:
    return {name: pydicom.dcmread(folder / "dicom" / name) for name in DICOM_FILES}


def _numbers(dataset: Dataset) -> Iterator[tuple[str, float]]:
    """(concept code value, numeric value) of every NUM item in an SR tree."""
    for item in dataset.get("ContentSequence", []):
        if item.ValueType == "NUM":
            code = item.ConceptNameCodeSequence[0].CodeValue
            yield code, float(item.MeasuredValueSequence[0].NumericValue)
        yield from _numbers(item)


def test_results_join_the_source_study_and_carry_the_values(
    dicom_source: Radiograph, tiny_models: ModelSet, tmp_path: Path
) -> None:
    result = _explained(dicom_source, tiny_models)
    written = write_dicom_results(result, dicom_source, tmp_path / "out")
    assert [p.name for p in written] == list(DICOM_FILES)
    objects = _read(tmp_path / "out")
    source = dicom_source.identity.as_dict()
    instances = set()
    for name, dataset in objects.items():
        assert dataset.StudyInstanceUID == source["StudyInstanceUID"], name
        assert dataset.SeriesInstanceUID != source["SeriesInstanceUID"], name
        assert dataset.PatientID == IDENTITY["PatientID"], name
        assert "RESEARCH ONLY" in dataset.SeriesDescription, name
        instances.add(dataset.SOPInstanceUID)
    assert len(instances) == len(DICOM_FILES)
    primary = result.primary
    # the float difference, bit for bit
    difference = objects["difference_map.dcm"].pixel_array
    np.testing.assert_array_equal(difference, primary.difference)
    mapping = objects["difference_map.dcm"].SharedFunctionalGroupsSequence[0]
    assert mapping.RealWorldValueMappingSequence[0].LUTLabel == "DIFFERENCE"
    # the translated image as 8 bits of the model window, and derived from the source
    translated = objects["translated.dcm"]
    expected = np.rint(np.clip(primary.translated, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(translated.pixel_array, expected)
    assert translated.ImageType[0] == "DERIVED"
    assert translated.SourceImageSequence[0].ReferencedSOPInstanceUID == source["SOPInstanceUID"]
    # the lungs, segment 1 = the patient's right
    segmentation = hd.seg.segread(tmp_path / "out" / "dicom" / "lungs.dcm")
    right = segmentation.get_pixels_by_source_instance(
        [source["SOPInstanceUID"]], segment_numbers=[1]
    )[0, ..., 0]
    assert result.right_lung.any()
    np.testing.assert_array_equal(right.astype(bool), result.right_lung)
    # the report's numbers are the result's
    numbers = dict(_numbers(objects["report.dcm"]))
    assert numbers["P-PNEUMO"] == pytest.approx(result.probability, abs=1e-6)
    assert numbers["P-TRANSLATED"] == pytest.approx(primary.probability, abs=1e-6)
    changes = [value for code, value in _numbers(objects["report.dcm"]) if code == "MEAN-CHANGE"]
    expected_changes = [r.mean_change for r in primary.statistics.regions if r.n_pixels > 0]
    np.testing.assert_allclose(changes, expected_changes, atol=1e-6)


def test_exporting_again_replaces_the_same_instances(
    dicom_source: Radiograph, tiny_models: ModelSet, tmp_path: Path
) -> None:
    result = _explained(dicom_source, tiny_models)
    write_dicom_results(result, dicom_source, tmp_path / "a")
    write_dicom_results(result, dicom_source, tmp_path / "b")
    first, second = _read(tmp_path / "a"), _read(tmp_path / "b")
    for name in DICOM_FILES:
        assert first[name].SOPInstanceUID == second[name].SOPInstanceUID, name


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) missing")
def test_every_object_passes_dciodvfy(
    dicom_source: Radiograph, tiny_models: ModelSet, tmp_path: Path
) -> None:
    write_dicom_results(_explained(dicom_source, tiny_models), dicom_source, tmp_path)
    for name in DICOM_FILES:
        report = subprocess.run(
            ["dciodvfy", str(tmp_path / "dicom" / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        errors = [line for line in report.stderr.splitlines() if line.startswith("Error")]
        assert not errors, (name, errors)


def test_a_png_gets_a_new_study_of_its_own(
    chest_like: Radiograph, tiny_models: ModelSet, tmp_path: Path
) -> None:
    result = _explained(chest_like, tiny_models)
    write_dicom_results(result, chest_like, tmp_path / "a")
    write_dicom_results(result, chest_like, tmp_path / "b")
    first, second = _read(tmp_path / "a"), _read(tmp_path / "b")
    studies = {d.StudyInstanceUID for d in [*first.values(), *second.values()]}
    assert len(studies) == 1
    assert str(first["report.dcm"].PatientName) == NO_IDENTITY_NAME


def test_anonymize_leaves_no_identifier_and_keeps_the_study_together(
    dicom_source: Radiograph, tiny_models: ModelSet, tmp_path: Path
) -> None:
    result = _explained(dicom_source, tiny_models)
    write_dicom_results(result, dicom_source, tmp_path, anonymize=True)
    needles = {v for v in dicom_source.identity.values() if len(v) >= 5}
    needles |= {part for value in IDENTITY.values() for part in value.split("^") if len(part) >= 5}
    assert IDENTITY["StudyInstanceUID"] in needles
    for name in DICOM_FILES:
        content = (tmp_path / "dicom" / name).read_bytes()
        leaked = [n for n in needles if n.encode() in content or n.upper().encode() in content]
        assert not leaked, (name, leaked)
    objects = _read(tmp_path)
    assert len({d.StudyInstanceUID for d in objects.values()}) == 1
    assert all(d.PatientIdentityRemoved == "YES" for d in objects.values())
    # Burned-in text would sit outside the lungs, where the translation is the original: blank.
    outside = ~(result.right_lung | result.left_lung)
    assert not objects["translated.dcm"].pixel_array[outside].any()
    assert objects["translated.dcm"].BurnedInAnnotation == "NO"
    # A second export is another pseudonymous patient: nothing to recompute the source from.
    write_dicom_results(result, dicom_source, tmp_path / "again", anonymize=True)
    again = pydicom.dcmread(tmp_path / "again" / "dicom" / "report.dcm")
    assert again.PatientID != objects["report.dcm"].PatientID


def test_cli_writes_dicom_and_refuses_anonymize_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write_dicom(tmp_path / "image.dcm")
    models = write_tiny_models(tmp_path / "models")
    out = tmp_path / "out"
    argv = ["explain", str(source), "--out", str(out), "--models", str(models), "--frames", "3"]
    assert main([*argv, "--anonymize"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "--dicom" in error[0]
    assert not out.exists()
    assert main([*argv, "--dicom"]) == 0
    assert sorted(p.name for p in (out / "dicom").iterdir()) == sorted(DICOM_FILES)
