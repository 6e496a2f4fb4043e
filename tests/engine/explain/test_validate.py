"""``validate``: metrics computed against phantom truth, written as JSON and Markdown."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from engine.cli.main import main
from engine.explain import pipeline as pipeline_module
from engine.explain import validate as validate_module
from engine.explain.validate import _iou_at_area, ncc
from engine.phantoms import DiseaseRecipe

REQUIRED = (
    "flip_rate_to_healthy",
    "flip_rate_to_disease",
    "iou_at_lesion_area_difference",
    "iou_at_lesion_area_gradcam",
    "iou_at_lesion_area_gradient",
    "signed_ncc",
    "mean_change_relative_error",
    "leakage_outside_lungs",
    "share_darker_to_healthy",
    "share_brighter_to_disease",
    "n_images",
)


def test_iou_at_lesion_area_is_one_for_a_perfect_map_and_low_for_a_wrong_one():
    lesion = np.zeros((10, 10), bool)
    lesion[2:4, 2:4] = True
    lungs = np.ones((10, 10), bool)
    perfect = lesion.astype(np.float32)
    assert _iou_at_area(perfect, lesion, lungs) == 1.0
    wrong = np.zeros((10, 10), np.float32)
    wrong[7:9, 7:9] = 1.0
    assert _iou_at_area(wrong, lesion, lungs) == 0.0


def test_ncc_signs():
    a = np.array([1.0, 2.0, 3.0])
    assert ncc(a, a) == pytest.approx(1.0)
    assert ncc(a, -a) == pytest.approx(-1.0)


def test_an_oracle_translation_scores_perfectly(tiny_models, monkeypatch):
    """With the true change as the translation, the metrics must say so."""
    truth: dict[str, np.ndarray] = {}
    real_generate = validate_module.generate_pair

    def generate_and_remember(seed, disease, size):
        phantom = real_generate(seed, disease, size=size)
        truth["lesion"] = phantom.lesion_map
        return phantom

    real_translate = pipeline_module.translate

    def oracle_translate(model, lung_field, lung):
        sign = -1.0 if model is tiny_models.to_healthy else 1.0
        real = real_translate(model, lung_field, lung)
        return dataclasses.replace(real, change=(sign * truth["lesion"]).astype(np.float32))

    monkeypatch.setattr(validate_module, "generate_pair", generate_and_remember)
    monkeypatch.setattr(pipeline_module, "translate", oracle_translate)
    monkeypatch.setattr(
        pipeline_module,
        "segment_lungs_checked",
        lambda model, image: (truth_lungs(truth), np.zeros(image.shape, bool), 0.0),
    )
    # No haze: a diffuse brightening would outrank the sub-pixel opacities at 64 px even in the
    # true change, and localisation is scored against the opacities (focal_lesions).
    config = validate_module.ValidationConfig(
        n=2, size=64, recipe=DiseaseRecipe(opacity_types=("r",), haze_range=(0.0, 0.0))
    )
    report = validate_module.validate(tiny_models, config)
    assert report["signed_ncc"] > 0.99
    assert report["iou_at_lesion_area_difference"] > 0.3  # blurred opacities vs their disks
    assert report["iou_at_lesion_area_difference"] > 2 * report["iou_at_lesion_area_gradcam"]
    assert report["mean_change_relative_error"] < 0.05
    assert report["share_darker_to_healthy"] == 1.0
    assert report["share_brighter_to_disease"] == 1.0


def truth_lungs(truth):
    return np.ones(truth["lesion"].shape, bool)


def test_validate_cli_writes_the_report(tmp_path, tiny_models, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "validate",
            "--n",
            "2",
            "--size",
            "64",
            "--out",
            str(out),
            "--models",
            str(tiny_models.directory),
        ]
    )
    assert code == 0
    report = json.loads((out / "validation.json").read_text())
    for key in REQUIRED:
        assert key in report, key
    assert report["n_images"] == 2
    assert (out / "validation.md").read_text().startswith("# Validation")
    assert json.loads(capsys.readouterr().out)["n_images"] == 2
