"""FIGAN quality numbers and ``cxr-explain figan``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from figan_helpers import TinyModels
from PIL import Image

from engine.cli.main import main
from engine.figan.explore import load_figan_models
from engine.figan.measures import frechet_distance, pearson
from engine.figan.validate import FiganValidationConfig, markdown_lines, validate_figan


def test_frechet_distance_known_values() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, a + shift) == pytest.approx(5.0, abs=1e-6)
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    x, y = rng.normal(0, 1, size=(20000, 1)), rng.normal(1, 3, size=(20000, 1))
    assert frechet_distance(x, y) == pytest.approx(1.0 + 4.0, rel=0.05)
    with pytest.raises(ValueError, match="frechet_distance"):
        frechet_distance(a[:1], a)


def test_pearson() -> None:
    assert pearson([1, 2, 3], [2, 4, 7]) > 0.98
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(pearson([1, 2, 3], [1, 1, 1]))


def test_validate_figan_reports_every_number(tiny: TinyModels) -> None:
    models = load_figan_models(tiny.models)
    config = FiganValidationConfig(n=2, size=64, n_frames=3, inversion_steps=5)
    report = validate_figan(models, config)
    assert report["components"] == 2
    for key in (
        "explained_label_variance",
        "sweep_score_r_mean",
        "sweep_score_r_min",
        "random_score_r",
        "classifier_feature_frechet_distance_per_component",
    ):
        assert len(report[key]) == 2, key
    assert report["classifier_feature_frechet_distance"] >= 0
    assert report["frechet_distance_healthy_vs_disease"] >= 0
    assert len(report["per_image"]) == 2
    assert report["label_component"] in (1, 2)
    assert -1.0 <= report["lesion_map_ncc"] <= 1.0
    text = "\n".join(markdown_lines(report))
    assert "classifier-feature Frechet distance" in text
    assert "not an FID" in text
    json.dumps(report, allow_nan=True)  # JSON-ready


def test_cli_figan_writes_frames_gif_and_numbers(
    tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tiny.data / "pneumoconiosis" / "p010.png"
    out = tmp_path / "out"
    argv = ["figan", str(image), "--component", "1", "--out", str(out)]
    assert main([*argv, "--models", str(tiny.models), "--frames", "3", "--steps", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["component"] == 1
    assert len(summary["frames"]) == 3
    names = {p.name for p in out.iterdir()}
    expected = {"frame_01.png", "frame_03.png", "generated_02.png", "reconstruction.png"}
    assert expected | {"figan.gif", "figan.json"} <= names
    with Image.open(out / "figan.gif") as gif:
        assert gif.n_frames >= 3
    with Image.open(out / "frame_01.png") as frame:
        assert frame.size == (32, 32)


def test_cli_figan_errors_exit_2(
    tiny: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = str(tiny.data / "healthy" / "p000.png")
    models = ["--models", str(tiny.models), "--steps", "0", "--frames", "2"]
    out = ["--out", str(tmp_path / "o")]
    assert main(["figan", str(tmp_path / "none.png"), "--component", "1", *out, *models]) == 2
    assert main(["figan", image, "--component", "0", *out, *models]) == 2
    assert main(["figan", image, "--component", "3", *out, *models]) == 2
    assert main(["figan", image, "--component", "1", *out, "--models", str(tmp_path)]) == 2
    assert main(["figan", image, "--component", "1", *out, *models, "--span", "9"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 5
    assert all(line.startswith("error: ") for line in lines)
    assert any("--component must be >= 1" in line for line in lines)
    assert any("no FIGAN model" in line for line in lines)


def test_cxr_explain_validate_adds_the_figan_section(tiny: TinyModels, tmp_path: Path) -> None:
    import shutil

    from engine.testing import write_tiny_models

    models = write_tiny_models(tmp_path / "models")
    for name in ("classifier", "figan"):  # the FIGAN belongs to its own classifier
        shutil.rmtree(models / name, ignore_errors=True)
        shutil.copytree(tiny.models / name, models / name)
    out = tmp_path / "report"
    args = ["validate", "--n", "2", "--size", "64", "--out", str(out), "--models", str(models)]
    assert main(args) == 0
    report = json.loads((out / "validation.json").read_text())
    assert len(report["figan"]["explained_label_variance"]) == report["figan"]["components"]
    markdown = (out / "validation.md").read_text()
    assert markdown_lines(report["figan"])[0] in markdown
    assert "Frechet" in markdown
