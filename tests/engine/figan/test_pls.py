"""PLS of classifier features against the label: fit, orientation, shares, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.cross_decomposition import PLSRegression

from engine.errors import InputError, ModelError
from engine.figan.features import ScoreProjector, extract_features
from engine.figan.pls import PLS_CONFIG_FILE, PLS_WEIGHTS_FILE, fit_pls, load_pls, save_pls
from engine.networks import ClassifierNet


def _data(n: int = 120, f: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first two units carry the label (unit 0 strongly, unit 1 weakly)."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.float64)
    x = rng.normal(size=(n, f))
    x[:, 0] += 2.0 * labels
    x[:, 1] -= 0.5 * labels
    x[:, 5] = 3.0  # a dead unit: no variance
    return x, labels


def test_scores_match_sklearn_and_point_toward_the_label() -> None:
    x, y = _data()
    pls = fit_pls(x, y, 3)
    scores = pls.scores(x)
    reference = PLSRegression(n_components=3, scale=True).fit(x, y).transform(x)
    for j in range(3):
        assert abs(np.corrcoef(scores[:, j], reference[:, j])[0, 1]) == pytest.approx(1.0, abs=1e-9)
        assert np.corrcoef(scores[:, j], y)[0, 1] >= 0  # + = toward the positive label
    assert scores.mean(axis=0) == pytest.approx(np.zeros(3), abs=1e-9)
    assert scores.std(axis=0, ddof=1) == pytest.approx(np.ones(3))
    a, b = pls.linear_map()
    assert x @ a + b == pytest.approx(scores)


def test_label_variance_shares_add_up_to_the_regression_r2() -> None:
    x, y = _data()
    pls = fit_pls(x, y, 3)
    shares = pls.explained_label_variance
    assert np.all(shares >= 0)
    assert shares[0] > 0.5 > shares[1]  # the strong unit dominates the first component
    r2 = PLSRegression(n_components=3, scale=True).fit(x, y).score(x, y)
    assert shares.sum() == pytest.approx(r2, abs=1e-6)
    assert 0 < pls.explained_feature_variance.sum() <= 1


def test_persistence_round_trip_is_exact(tmp_path: Path) -> None:
    x, y = _data()
    pls = fit_pls(x, y, 4, source={"classifier_sha256": "ab" * 32, "size": 32})
    save_pls(pls, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {PLS_CONFIG_FILE, PLS_WEIGHTS_FILE}
    loaded = load_pls(tmp_path)
    for name in ("feature_mean", "feature_scale", "rotations", "score_mean", "score_std"):
        assert np.array_equal(getattr(loaded, name), getattr(pls, name)), name
        assert getattr(loaded, name).dtype == np.float64
    assert np.array_equal(loaded.explained_label_variance, pls.explained_label_variance)
    assert np.array_equal(loaded.scores(x), pls.scores(x))
    assert dict(loaded.source) == {"classifier_sha256": "ab" * 32, "size": 32}
    config = json.loads((tmp_path / PLS_CONFIG_FILE).read_text())
    assert config["n_components"] == 4
    assert len(config["explained_label_variance"]) == 4


def test_tampered_or_missing_files_are_model_errors(tmp_path: Path) -> None:
    x, y = _data()
    save_pls(fit_pls(x, y, 2), tmp_path)
    weights = tmp_path / PLS_WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_pls(tmp_path)
    weights.unlink()
    with pytest.raises(ModelError, match="no PLS projection"):
        load_pls(tmp_path)


def test_bad_fits_are_input_errors() -> None:
    x, y = _data(n=10)
    with pytest.raises(InputError, match="both classes"):
        fit_pls(x, np.zeros(10), 2)
    with pytest.raises(InputError, match="at least"):
        fit_pls(x, y, 10)
    with pytest.raises(InputError, match=">= 1"):
        fit_pls(x, y, 0)
    with pytest.raises(InputError, match="N labels"):
        fit_pls(x, y[:5], 2)
    with pytest.raises(InputError, match="features of shape"):
        fit_pls(x, y, 2).scores(np.zeros((3, 4)))


def test_projector_is_the_pls_of_the_classifier_features_and_differentiable() -> None:
    torch.manual_seed(0)
    classifier = ClassifierNet(base_width=4, n_stages=2, feature_dim=8).eval()
    images = torch.rand(24, 1, 16, 16) * 2 - 1
    labels = (images.mean(dim=(1, 2, 3)) > 0).numpy().astype(float)
    labels[:2] = (0, 1)  # both classes whatever the draw
    found = extract_features(classifier, images, input_size=32)
    pls = fit_pls(found.features, labels, 2)
    projector = ScoreProjector(classifier, pls, 32)
    inputs = images.clone().requires_grad_(True)
    scores, logits = projector(inputs)
    assert scores.detach().double().numpy() == pytest.approx(pls.scores(found.features), abs=1e-4)
    assert logits.detach().double().numpy() == pytest.approx(found.logits, abs=1e-5)
    scores[:, 0].sum().backward()
    assert inputs.grad is not None
    assert torch.isfinite(inputs.grad).all()
    assert all(p.grad is None for p in classifier.parameters())  # frozen
