"""The operating point: chosen on held-out healthy images only, stored in the bundle's config,
and then every probability the product shows puts P = 0.5 at it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.cli.main import main
from engine.explain import operating_point
from engine.explain.operating_point import (
    CalibrationConfig,
    bundle_logits,
    calibrate_bundles,
    choose_offset,
)
from engine.explain.validate import FileFormat
from engine.inference.model_input import model_intensity
from engine.inference.model_set import load_model_set
from engine.inference.run import classify
from engine.io import load_radiograph
from engine.phantoms import DiseaseParams, generate_pair
from engine.resources import default_models_dir
from engine.testing import write_tiny_models

SMALL = CalibrationConfig(n=20, sizes=(64, 80), formats=(FileFormat.PNG,), first_seed=500)


@pytest.fixture
def dark_lungs(monkeypatch):
    """The tiny segmenter finds no lungs; the darker half of the image stands in for them, so
    the tiny classifier's logits differ from image to image."""

    def segment(model, intensity):
        lungs = intensity < np.median(intensity)
        return lungs, np.zeros_like(lungs), 0.0

    monkeypatch.setattr(operating_point, "segment_lungs_checked", segment)
    return segment


def test_the_offset_keeps_the_target_specificity_with_confidence():
    """A tolerance bound, not the plain quantile: on fresh draws from the same healthy
    population the share below the offset reaches the target in at least 95 % of draws."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=300)
    offset = choose_offset(logits, 0.95)
    assert offset > np.quantile(logits, 0.95)  # above the point estimate
    assert offset < logits.max()
    reached = []
    for _ in range(400):
        sample = rng.normal(size=300)
        reached.append(_normal_cdf(choose_offset(sample, 0.95)) >= 0.95)
    assert np.mean(reached) >= 0.93  # 0.95 nominal, less Monte Carlo noise
    # Too few images for the confidence: the largest logit, and the record says how sure.
    assert choose_offset(np.arange(10.0), 0.95) == 9.0
    assert operating_point.reached_confidence(10, 0.95, 9) < 0.5


def _normal_cdf(x: float) -> float:
    import math

    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_calibrated_probabilities_put_the_target_share_of_healthy_images_below_one_half(
    tmp_path, dark_lungs
):
    models = write_tiny_models(tmp_path / "models")
    records = calibrate_bundles(models, ["classifier"], SMALL)
    record = records["classifier"]
    config = json.loads((models / "classifier" / "config.json").read_text())
    assert config["architecture_kwargs"]["decision_offset"] == record["decision_offset"]
    assert config["training"]["operating_point"]["healthy_images"] == 20
    # Through the public load path: the same healthy images, classified as explain does.
    loaded = load_model_set(models)
    below = []
    for index in range(SMALL.n):
        seed = SMALL.first_seed + index
        options = operating_point.population_options(SMALL, seed)
        phantom = generate_pair(seed, DiseaseParams(), size=SMALL.sizes[index % 2], **options)
        path = operating_point.write_phantom_file(
            tmp_path / f"h{index}", np.asarray(phantom.healthy_image), FileFormat.PNG
        )
        intensity = model_intensity(load_radiograph(path))
        lungs, _, _ = dark_lungs(None, intensity)
        below.append(float(classify(loaded.classifier, [intensity], lungs)[0]) < 0.5)
    assert np.mean(below) == pytest.approx(record["specificity_on_calibration_images"])
    assert 0.85 <= np.mean(below) < 1.0
    # Calibrating a calibrated bundle again measures the raw logits: the same offset.
    again = calibrate_bundles(models, ["classifier"], SMALL)["classifier"]
    assert again["decision_offset"] == pytest.approx(record["decision_offset"], abs=1e-5)


def test_cli_refuses_a_folder_without_classifier_and_bad_specificity(tmp_path, capsys):
    assert main(["calibrate", "--models", str(tmp_path)]) == 2
    assert "no classifier" in capsys.readouterr().err
    models = write_tiny_models(tmp_path / "models")
    assert main(["calibrate", "--models", str(models), "--specificity", "1.5"]) == 2
    assert "--specificity" in capsys.readouterr().err


def test_worker_processes_give_the_same_logits_in_image_order(tmp_path):
    """``--workers`` only spreads the images over processes: each image's logit, and the order,
    are those of one process (the shipped segmenter finds lungs, so the logits differ)."""
    models = write_tiny_models(tmp_path / "models")
    shutil.rmtree(models / "segmenter")
    shutil.copytree(default_models_dir() / "segmenter", models / "segmenter")
    one = bundle_logits(models, ["classifier"], SMALL)
    spread = bundle_logits(models, ["classifier"], SMALL, workers=2)
    assert one.shape == (1, SMALL.n)
    assert np.unique(one).size > SMALL.n // 2  # image-specific values, so order is tested
    # Workers run one thread each: float sums may round differently from a multi-thread run.
    np.testing.assert_allclose(spread, one, rtol=1e-5, atol=1e-6)
