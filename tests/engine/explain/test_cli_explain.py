"""``cxr-explain explain``: files written, exit codes, nothing identifying in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.main import main
from engine.explain.export import OUTPUT_FILES
from engine.testing import fake_dicom

SECRETS = ("DOE^JOHN^SECRET", "MRN-55501", "19450203", "ACC-777123", "Secret Clinic Hospital")


def _dicom_with_identity(path):
    identity = dict(
        zip(
            ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionName"),
            SECRETS,
            strict=True,
        )
    )
    rows, columns = np.mgrid[0:48, 0:40]
    pixels = (1000 + 2000 * (np.hypot(rows - 24, columns - 20) > 12)).astype(np.uint16)
    fake_dicom(pixels, identity, BitsStored=12, HighBit=11).save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def models_dir(tiny_models):
    return tiny_models.directory


def test_explain_writes_every_output_and_no_identifier(tmp_path, models_dir, capsys):
    source = _dicom_with_identity(tmp_path / "study.dcm")
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(source),
            "--out",
            str(out),
            "--models",
            str(models_dir),
            "--gif",
            "--frames",
            "3",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counterfactuals"][0]["direction"] in ("to-healthy", "to-disease")
    for name in (*OUTPUT_FILES, "explanation.gif"):
        assert (out / name).is_file(), name
    with Image.open(out / "difference.tiff") as tiff:
        assert tiff.mode == "F"
        assert tiff.size == (40, 48)
    for path in out.iterdir():
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (path.name, secret)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


def _decoder_processes() -> set[int]:
    """Pids of running decoder processes (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"engine.io.decode_worker" in command:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_console_script_ends_at_once_and_loses_nothing(tmp_path, models_dir):
    """The console script ends ``explain`` with os._exit (engine.cli.base.end_process): stdout
    and stderr must still arrive whole, every file be written, and no decoder be left behind."""
    script = Path(sys.executable).with_name("cxr-explain")
    source = _dicom_with_identity(tmp_path / "study.dcm")
    before = _decoder_processes()
    out = tmp_path / "out"
    done = subprocess.run(
        [str(script), "explain", str(source), "--out", str(out), "--models", str(models_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"CXR_EXPLAIN_DECODE_ISOLATION": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["out"] == str(out)  # the whole JSON, flushed
    assert {p.name for p in out.iterdir()} >= set(OUTPUT_FILES) - {"explanation.gif"}
    bad = subprocess.run(
        [str(script), "explain", str(tmp_path / "missing.dcm"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1
    deadline = time.monotonic() + 20.0
    while _decoder_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _decoder_processes() - before, "a decoder process outlived its command"


def test_explain_bad_input_is_one_error_line(tmp_path, models_dir, capsys):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 10)
    code = main(["explain", str(bad), "--out", str(tmp_path / "o"), "--models", str(models_dir)])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1


def test_explain_missing_models_is_one_error_line(tmp_path, capsys):
    source = _dicom_with_identity(tmp_path / "study.dcm")
    code = main(
        [
            "explain",
            str(source),
            "--out",
            str(tmp_path / "o"),
            "--models",
            str(tmp_path / "nowhere"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("error: model folder")


def test_explain_bad_frame_count(tmp_path, models_dir, capsys):
    source = _dicom_with_identity(tmp_path / "study.dcm")
    code = main(
        [
            "explain",
            str(source),
            "--out",
            str(tmp_path / "o"),
            "--models",
            str(models_dir),
            "--frames",
            "1",
        ]
    )
    assert code == 2
    assert "n_frames" in capsys.readouterr().err


def test_bench_reports_every_stage(tiny_models, capsys):
    code = main(["bench", "--size", "96", "--repeats", "1", "--models", str(tiny_models.directory)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for stage in ("load", "segment", "classify", "attributions", "gif", "end_to_end"):
        assert report["stages_s"][stage] >= 0, stage
    assert report["matmul_gflops"] > 0
    assert report["peak_rss_mb"] > 0


def test_a_caution_travels_with_every_exported_picture(
    tmp_path, tiny_models, chest_like, without_reasons
):
    import dataclasses

    from engine.explain.export import export_explanation
    from engine.explain.pipeline import explain

    result = explain(chest_like, tiny_models)
    flagged = dataclasses.replace(result, ood_score=3.0, segmentation_uncertainty=None)
    caution = flagged.caution()
    assert caution is not None
    assert caution.startswith("OUT OF DISTRIBUTION (feature score 3.00)")
    out = tmp_path / "out"
    export_explanation(flagged, out, gif=True)
    height, width = chest_like.shape
    for name in ("original.png", "translated.png", "difference.png", "gradcam.png"):
        with Image.open(out / name) as image:
            assert image.info.get("Warning") == caution, name
            pixels = np.asarray(image.convert("RGB"))
        assert pixels.shape[1] == width, name
        assert pixels.shape[0] > height, name  # the band is added above, not painted over
        band = pixels[: pixels.shape[0] - height]
        red = (band[..., 0] > 150) & (band[..., 1] < 60)
        assert red.mean() > 0.5, name
    with Image.open(out / "lung_mask.png") as mask:  # data, left unmarked
        assert mask.size == (width, height)
    with Image.open(out / "difference.tiff") as tiff:
        assert caution in tiff.tag_v2[270]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["caution"] == caution
    assert stats["counterfactuals"][0]["verdict"] in ("valid", "invalid")
    # Without a reason, nothing is added.
    clean = without_reasons(result)
    assert clean.caution() is None
    export_explanation(clean, tmp_path / "clean", gif=False)
    with Image.open(tmp_path / "clean" / "translated.png") as image:
        assert image.size == (width, height)
        assert "Warning" not in image.info
