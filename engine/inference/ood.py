"""Out-of-distribution score: how far an image's classifier features lie from the training data.

A counterfactual explanation of an image unlike anything the models were trained on looks just as
convincing as a valid one, so the explanation carries a score that says when not to trust it.
Features: the per-channel mean and standard deviation of the classifier's last convolutional
map (2 x C values). The 64 fully connected features were tried first and are too coarse: CT, MR,
ultrasound and noise images all scored inside the training range. The training images' features
are summarised by a Gaussian (mean, Ledoit-Wolf shrunk covariance: the dimension is not small
against the number of images); an image's score is its Mahalanobis distance divided by
``MARGIN`` x the largest distance among the training images. Score > 1: out of distribution.
The margin absorbs the shift between training inputs (8-bit PNGs, true lung masks) and viewer
inputs (any bit depth, the segmenter's masks): held-out phantoms through the viewer's path
scored up to 1.03 x the training maximum, non-chest and real images 1.6-4.7 x (see
docs/method.md).

Stored next to the classifier weights, as everything else: ``feature_density.safetensors``
(mean, precision, training distances) and ``feature_density.json`` (its SHA-256, counts, the
held-out flag rate). A classifier bundle without them simply has no score.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from engine.atomic import atomic_path, write_text_atomically
from engine.errors import ModelError
from engine.models import LoadedModel
from engine.models.bundle import sha256_of

DENSITY_WEIGHTS = "feature_density.safetensors"
DENSITY_CONFIG = "feature_density.json"
FORMAT_VERSION = 2
#: Flag threshold as a multiple of the largest training distance.
MARGIN = 1.5


@dataclass(frozen=True, slots=True, eq=False)
class FeatureDensity:
    """Gaussian summary of training features. ``reference``: the distance that scores 1."""

    mean: npt.NDArray[np.float64]  # (F,)
    precision: npt.NDArray[np.float64]  # (F, F), inverse of the shrunk covariance
    reference: float
    training_images: int

    def distances(self, features: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Mahalanobis distance of each row of ``features`` ``(N, F)``."""
        centred = np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean
        squared = np.einsum("nf,fg,ng->n", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def scores(self, features: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Distance / ``reference``: > 1 is out of distribution."""
        return self.distances(features) / self.reference


def fit_feature_density(features: npt.ArrayLike, margin: float = MARGIN) -> FeatureDensity:
    """Fit the density to training features ``(N, F)``; N >= 2. Score 1 = ``margin`` x max."""
    from sklearn.covariance import LedoitWolf

    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or not np.all(np.isfinite(matrix)):
        raise ModelError("a feature density needs at least two finite feature vectors")
    estimate = LedoitWolf().fit(matrix)
    precision = np.asarray(estimate.precision_, dtype=np.float64)
    mean = np.asarray(estimate.location_, dtype=np.float64)
    draft = FeatureDensity(mean=mean, precision=precision, reference=1.0, training_images=0)
    reference = float(draft.distances(matrix).max())
    return FeatureDensity(
        mean=mean,
        precision=precision,
        reference=max(margin * reference, 1e-12),
        training_images=int(matrix.shape[0]),
    )


def map_statistics(feature_map: torch.Tensor) -> npt.NDArray[np.float64]:
    """``(B, C, H, W)`` last convolutional map -> ``(B, 2C)`` per-channel mean and SD."""
    statistics = torch.cat([feature_map.mean((2, 3)), feature_map.std((2, 3))], dim=1)
    return statistics.double().cpu().numpy()


@torch.no_grad()
def network_features(network: Any, inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """:func:`map_statistics` of ``network`` on model inputs ``(N, 1, S, S)``, in batches of 16."""
    rows = []
    for start in range(0, len(inputs), 16):
        batch = torch.from_numpy(inputs[start : start + 16]).to(_device_of(network))
        feature_map, _ = network.forward_features(batch)
        rows.append(map_statistics(feature_map))
    return np.concatenate(rows) if rows else np.zeros((0, 0))


@torch.no_grad()
def classify_with_features(
    model: LoadedModel,
    intensity: npt.NDArray[np.float32],
    lung: npt.NDArray[np.generic] | None,
) -> tuple[float, npt.NDArray[np.float64]]:
    """One classifier pass over an intensity image in ``[0, 1]`` with its lung mask: the
    positive label's probability (as :func:`engine.inference.run.classify`) and the ``(1, 2C)``
    feature vector."""
    from engine.inference.run import batch_tensor, field_inputs

    network: Any = model.module
    (prepared,) = field_inputs(model, [intensity], lung)
    feature_map, features = network.forward_features(batch_tensor([prepared.field]))
    logit = network.logit_from_features(features)
    return float(torch.sigmoid(logit.double())[0]), map_statistics(feature_map)


def image_features(
    model: LoadedModel,
    intensity: npt.NDArray[np.float32],
    lung: npt.NDArray[np.generic] | None,
) -> npt.NDArray[np.float64]:
    """The feature vector ``(1, 2C)`` of one intensity image with its lung mask."""
    return classify_with_features(model, intensity, lung)[1]


def _device_of(network: torch.nn.Module) -> torch.device:
    parameter = next(network.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def save_feature_density(
    bundle_dir: str | os.PathLike[str], density: FeatureDensity, extra: dict[str, Any]
) -> None:
    """Write the two files into the classifier bundle folder, each atomically, weights first."""
    from safetensors.numpy import save_file

    folder = Path(bundle_dir)
    weights = folder / DENSITY_WEIGHTS
    with atomic_path(weights) as temporary:
        save_file(
            {
                "mean": density.mean.astype(np.float64),
                "precision": density.precision.astype(np.float64),
            },
            str(temporary),
        )
    record = {
        "format_version": FORMAT_VERSION,
        "method": "Mahalanobis distance (Ledoit-Wolf covariance) of the per-channel mean and SD "
        "of the classifier's last convolutional map",
        "score": f"distance / ({MARGIN} x the largest training distance); > 1 = out of "
        "distribution",
        "reference_distance": density.reference,
        "training_images": density.training_images,
        "sha256": sha256_of(weights),
        **extra,
    }
    write_text_atomically(folder / DENSITY_CONFIG, json.dumps(record, indent=2) + "\n")


def load_feature_density(bundle_dir: str | os.PathLike[str]) -> FeatureDensity | None:
    """The density stored with a classifier bundle; None when the bundle has none."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    folder = Path(bundle_dir)
    config_path, weights_path = folder / DENSITY_CONFIG, folder / DENSITY_WEIGHTS
    if not config_path.is_file() and not weights_path.is_file():
        return None
    name = folder.name
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
        payload = weights_path.read_bytes()
    except (OSError, ValueError) as error:
        raise ModelError(f"{name}: cannot read the feature density: {error}") from None
    if not isinstance(record, dict) or record.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{name}: feature_density.json has an unknown format")
    if hashlib.sha256(payload).hexdigest() != record.get("sha256"):
        raise ModelError(f"{name}: feature_density.safetensors does not match its checksum")
    try:
        tensors = load(payload)
        mean, precision = tensors["mean"], tensors["precision"]
        reference = float(record["reference_distance"])
        count = int(record["training_images"])
    except (SafetensorError, KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{name}: the feature density is malformed: {error}") from None
    if mean.ndim != 1 or precision.shape != (mean.size, mean.size) or not reference > 0:
        raise ModelError(f"{name}: the feature density has inconsistent shapes")
    return FeatureDensity(
        mean=mean.astype(np.float64),
        precision=precision.astype(np.float64),
        reference=reference,
        training_images=count,
    )
