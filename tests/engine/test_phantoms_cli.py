"""``cxr-explain phantoms`` and the data-set writer: layout, manifests, DICOM headers."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from engine.cli.base import EXIT_BAD_INPUT, EXIT_OK, run_guarded
from engine.cli.phantoms import COMMAND
from engine.phantoms.dataset import DatasetConfig, write_dataset


def _run(argv: list[str]) -> int:
    """Run the subcommand through its own parser (independent of the main registry)."""
    parser = argparse.ArgumentParser()
    COMMAND.add_arguments(parser)
    return run_guarded(COMMAND, parser.parse_args(argv))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_png_dataset_layout_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "set"
    assert _run(["--n", "4", "--out", str(out), "--size", "64", "--seed", "7"]) == EXIT_OK
    rows = _rows(out / "manifest.csv")
    assert [r["label"] for r in rows] == ["healthy", "pneumoconiosis"] * 2
    for row in rows:
        image = _load(out / row["file"])
        assert image.shape == (64, 64)
        assert image.dtype == np.uint16
        lung = _load(out / row["mask_file"])
        assert lung.dtype == np.uint8
        assert set(np.unique(lung)) <= {0, 255}
        left = _load(out / row["left_mask_file"])
        right = _load(out / row["right_mask_file"])
        assert np.array_equal(lung, np.maximum(left, right))
        devices = _load(out / row["devices_mask_file"])
        assert devices.shape == lung.shape
        assert set(np.unique(devices)) <= {0, 255}
        zones = _load(out / row["zones_file"])
        assert set(np.unique(zones)) == {0, 60, 120, 180}
        lesion = _load(out / row["lesion_file"])
        assert lesion.dtype == np.float32
        assert (lesion.max() > 0) == (row["label"] == "pneumoconiosis")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert manifest["size"] == 64
    assert len(manifest["images"]) == 4
    assert manifest["spacing_mm"] == pytest.approx(400 / 64)


def test_same_seed_same_bytes_for_png_and_dicom(tmp_path: Path) -> None:
    for fmt in ("png", "dicom"):
        digests = []
        for run in ("a", "b"):
            out = tmp_path / f"{fmt}{run}"
            assert _run(["--n", "2", "--out", str(out), "--size", "48", "--format", fmt]) == 0
            digests.append(_digest(out))
        assert digests[0] == digests[1]
    other = tmp_path / "other"
    _run(["--n", "2", "--out", str(other), "--size", "48", "--seed", "1"])
    assert _digest(other) != _digest(tmp_path / "pnga")


def test_paired_dataset_shares_anatomy(tmp_path: Path) -> None:
    out = tmp_path / "paired"
    assert _run(["--n", "2", "--out", str(out), "--size", "64", "--paired"]) == 0
    healthy = _load(out / "healthy/phantom_00000.png").astype(float) / 65535
    diseased = _load(out / "pneumoconiosis/phantom_00000.png").astype(float)
    lesion = _load(out / "lesions/phantom_00000.tiff")
    # 16-bit quantisation only: diseased - healthy is the stored lesion map
    np.testing.assert_allclose(diseased / 65535 - healthy, lesion, atol=2.0 / 65535)
    rows = _rows(out / "manifest.csv")
    assert len(rows) == 4
    assert {r["id"] for r in rows} == {"phantom_00000", "phantom_00001"}


def test_dicom_headers_are_realistic_and_fake(tmp_path: Path) -> None:
    out = tmp_path / "dcm"
    assert _run(["--n", "2", "--out", str(out), "--size", "64", "--format", "dicom"]) == 0
    path = out / "healthy/phantom_00000.dcm"
    assert path.read_bytes()[:128] == b"\x00" * 128
    assert path.read_bytes()[128:132] == b"DICM"
    ds = pydicom.dcmread(path)
    assert ds.Modality == "DX"
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (16, 12, 11)
    assert float(ds.PixelSpacing[0]) == pytest.approx(400 / 64)
    assert float(ds.ImagerPixelSpacing[0]) > float(ds.PixelSpacing[0])
    assert str(ds.PatientName) == "PHANTOM^FAKE^0000"
    assert ds.PatientID == "FAKE-0000"
    assert ds.InstitutionName == "Synthetic Phantom Hospital"
    assert ds.AccessionNumber.startswith("FAKE")
    assert len(ds.PatientBirthDate) == 8
    assert ds.StudyDate
    assert ds.WindowCenter
    assert ds.WindowWidth
    pixels = ds.pixel_array
    assert pixels.shape == (64, 64)
    assert pixels.max() <= 4095
    assert pixels.max() > 2000


def test_non_empty_output_needs_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "set"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert _run(["--n", "1", "--out", str(out), "--size", "48"]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: output folder is not empty")
    assert _run(["--n", "1", "--out", str(out), "--size", "48", "--overwrite"]) == EXIT_OK
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "argv",
    [
        ["--profusion", "4"],
        ["--profusion", "x"],
        ["--type", "z"],
        ["--haze", "-1"],
        ["--size", "4"],
        ["--n", "0"],
        ["--seed", "-3"],
        ["--no-nodules"],
    ],
)
def test_bad_arguments_give_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    base = ["--n", "1", "--out", str(tmp_path / "x"), "--size", "48"]
    assert _run([*base, *argv]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert len(err.splitlines()) == 1


def test_brightness_only_dataset(tmp_path: Path) -> None:
    config = DatasetConfig(n=2, size=48, nodules=False, haze=0.3, foreign_object_probability=0)
    write_dataset(tmp_path / "haze", config)
    rows = _rows(tmp_path / "haze/manifest.csv")
    diseased = [r for r in rows if r["label"] == "pneumoconiosis"]
    assert diseased
    assert all(r["n_opacities"] == "0" and float(r["haze"]) > 0 for r in diseased)


def test_registered_through_main(tmp_path: Path) -> None:
    from engine.cli import main

    out = tmp_path / "via-main"
    argv = ["phantoms", "--n", "1", "--out", str(out), "--size", "48"]
    assert main.main(argv) == EXIT_OK
    assert (out / "manifest.csv").is_file()
