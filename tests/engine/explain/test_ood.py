"""The out-of-distribution score: fitting, persistence and the explanation's warning."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.explain.warning_codes import WarningCode, code_of
from engine.inference.model_set import ModelSet
from engine.inference.ood import (
    DENSITY_CONFIG,
    DENSITY_WEIGHTS,
    FeatureDensity,
    fit_feature_density,
    image_features,
    load_feature_density,
    save_feature_density,
)
from engine.types import Radiograph


def _training_features(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(400, 6)) * np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0]) + 5.0


def test_scores_separate_training_like_from_far_features() -> None:
    density = fit_feature_density(_training_features())
    assert density.training_images == 400
    assert np.all(density.scores(_training_features()) <= 1.0 / 1.5 + 1e-9)  # 1 = 1.5 x their max
    held_out = density.scores(_training_features(seed=1))
    assert np.mean(held_out > 1.0) < 0.05
    far = np.full((1, 6), 5.0)
    far[0, 2] += 10.0  # 20 standard deviations along the narrowest axis
    assert density.scores(far)[0] > 2.0


def test_fit_refuses_too_few_or_non_finite_features() -> None:
    with pytest.raises(ModelError, match="at least two"):
        fit_feature_density(np.zeros((1, 3)))
    with pytest.raises(ModelError, match="finite"):
        fit_feature_density(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_round_trip_is_exact_and_tampering_is_refused(tmp_path: Path) -> None:
    density = fit_feature_density(_training_features())
    assert load_feature_density(tmp_path) is None  # a bundle without a density has no score
    save_feature_density(tmp_path, density, {"data": "phantoms"})
    loaded = load_feature_density(tmp_path)
    assert loaded is not None
    assert np.array_equal(loaded.mean, density.mean)
    assert np.array_equal(loaded.precision, density.precision)
    assert loaded.reference == density.reference
    assert json.loads((tmp_path / DENSITY_CONFIG).read_text())["data"] == "phantoms"
    weights = bytearray((tmp_path / DENSITY_WEIGHTS).read_bytes())
    weights[-1] ^= 0xFF
    (tmp_path / DENSITY_WEIGHTS).write_bytes(bytes(weights))
    with pytest.raises(ModelError, match="checksum"):
        load_feature_density(tmp_path)


def _density_at(features: np.ndarray, shift: float) -> FeatureDensity:
    """A density whose mean is ``shift`` away from ``features`` (unit covariance)."""
    size = features.shape[1]
    return FeatureDensity(
        mean=features[0] + shift, precision=np.eye(size), reference=1.0, training_images=2
    )


def test_explanation_warns_only_when_the_image_is_far_from_the_training_data(
    tiny_models: ModelSet, chest_like: Radiograph
) -> None:
    plain = explain(chest_like, tiny_models)
    assert plain.ood_score is None  # no density, no score
    lung = plain.right_lung | plain.left_lung
    features = image_features(tiny_models.classifier, plain.original, lung)
    near = dataclasses.replace(tiny_models, feature_density=_density_at(features, 0.0))
    far = dataclasses.replace(tiny_models, feature_density=_density_at(features, 10.0))
    result_near, result_far = explain(chest_like, near), explain(chest_like, far)
    assert result_near.ood_score is not None
    assert result_near.ood_score <= 1.0
    assert result_far.ood_score is not None
    assert result_far.ood_score > 10.0
    assert result_far.out_of_distribution
    assert any("out of distribution" in warning for warning in result_far.warnings)
    assert not any("out of distribution" in warning for warning in result_near.warnings)


def test_cli_outputs_carry_the_score(tmp_path: Path, chest_like: Radiograph) -> None:
    from engine.cli.main import main
    from engine.testing import write_tiny_models

    models = write_tiny_models(tmp_path / "models")
    save_feature_density(
        models / "classifier",
        FeatureDensity(mean=np.zeros(32), precision=np.eye(32), reference=1e-6, training_images=2),
        {},
    )
    source = tmp_path / "chest.png"  # written by the chest_like fixture (same tmp_path)
    assert source.is_file()
    out = tmp_path / "out"
    assert main(["explain", str(source), "--out", str(out), "--models", str(models)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["ood_score"] > 1.0  # every image is "far" from a zero-width density
    assert stats["out_of_distribution"] is True
    assert any("out of distribution" in warning for warning in stats["warnings"])


class _ConfidentSegmenter(torch.nn.Module):
    """Logit +20 in a central box, -20 elsewhere; ``blur`` > 0 blends in logit 0 (uncertain)."""

    def __init__(self, blur: float) -> None:
        super().__init__()
        self.blur = blur

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full_like(x, -20.0)
        size = x.shape[-1]
        logits[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 20.0
        return logits * (1.0 - self.blur)


def test_an_uncertain_segmentation_flags_the_image(
    tiny_models: ModelSet, chest_like: Radiograph
) -> None:
    def with_segmenter(blur: float) -> ModelSet:
        segmenter = dataclasses.replace(tiny_models.segmenter, module=_ConfidentSegmenter(blur))
        return dataclasses.replace(tiny_models, segmenter=segmenter)

    confident = explain(chest_like, with_segmenter(0.0))
    assert confident.segmentation_uncertainty == 0.0
    assert not confident.out_of_distribution
    assert not any("uncertain lung segmentation" in w for w in confident.warnings)
    uncertain = explain(chest_like, with_segmenter(0.99))  # logits +-0.2: all pixels uncertain
    assert uncertain.segmentation_uncertainty is not None
    assert uncertain.segmentation_uncertainty > 0.9
    assert uncertain.out_of_distribution
    assert any("uncertain lung segmentation" in w for w in uncertain.warnings)


def test_warnings_carry_codes_that_survive_a_worker_process(
    tiny_models: ModelSet, chest_like: Radiograph
) -> None:
    """The viewer decides what a warning means by its code (never by its words), so every
    pipeline warning has one, and pickling (Dask workers, the decode process) keeps it."""
    plain = explain(chest_like, tiny_models, ExplainRequest(direction=Direction.BOTH))
    lung = plain.right_lung | plain.left_lung
    features = image_features(tiny_models.classifier, plain.original, lung)
    far = dataclasses.replace(tiny_models, feature_density=_density_at(features, 10.0))
    result = explain(chest_like, far, ExplainRequest(direction=Direction.BOTH))
    codes = [code_of(warning) for warning in result.warnings]
    assert None not in codes
    assert WarningCode.OUT_OF_DISTRIBUTION in codes
    assert WarningCode.NOT_A_COUNTERFACTUAL in codes  # one direction never qualifies
    for warning in result.warnings:
        copy = pickle.loads(pickle.dumps(warning))
        assert copy == warning
        assert code_of(copy) is code_of(warning)
    assert code_of("out of distribution (score 9 > 1)") is None  # words alone carry no code
