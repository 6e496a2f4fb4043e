"""Partial least squares between the classifier's features and the label (FIGAN step 2).

The classifier's feature layer (``F`` units) is reduced to ``k`` PLS components: the directions in
feature space that covary most with the label (PCA would keep the directions of most variance,
whatever the label). scikit-learn's ``PLSRegression`` fits them; everything after the fit is
plain linear algebra stored here, so applying the projection needs neither scikit-learn nor
pickle:

    standardised features  u = (x - feature_mean) / feature_scale          (zero-variance: scale 1)
    raw scores             t = u @ rotations                                (F x k)
    condition (SD units)   s = (t - score_mean) / score_std

``s`` is what the FIGAN generator is conditioned on, so "+2" means two training-set standard
deviations above the mean along that component. Signs are oriented so that a *higher* score means
*more* evidence for the positive label (pneumoconiosis): PLS signs are otherwise arbitrary.

``explained_label_variance[j]`` is the share of the label's variance that component ``j`` adds
(the increase in R^2 when its scores join those before it in a least-squares fit of the label);
``explained_feature_variance[j]`` the share of the standardised features' variance it carries.

Persistence: ``pls.safetensors`` (every array, float64) and ``pls.json`` (sizes, the shares for
people to read, provenance and the SHA-256 of the tensor file). Loading checks the checksum and
every shape; a round trip is exact.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.numpy import load as load_safetensors_bytes
from safetensors.numpy import save as save_safetensors_bytes

from engine.atomic import atomic_path, write_text_atomically
from engine.errors import InputError, ModelError

PLS_WEIGHTS_FILE = "pls.safetensors"
PLS_CONFIG_FILE = "pls.json"
PLS_FORMAT_VERSION = 1
DEFAULT_COMPONENTS = 4
_ARRAYS = (
    "feature_mean",
    "feature_scale",
    "rotations",
    "score_mean",
    "score_std",
    "label_coefficients",
    "explained_label_variance",
    "explained_feature_variance",
)

Float64Array = npt.NDArray[np.float64]


def _readonly(array: npt.ArrayLike) -> Float64Array:
    out = np.array(array, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True, eq=False)
class FeaturePLS:
    """A fitted PLS projection (see the module docstring). Arrays are float64 and read-only.

    ``feature_mean``, ``feature_scale``: ``(F,)``; ``rotations``: ``(F, k)``; ``score_mean``,
    ``score_std``, ``label_coefficients`` (least-squares fit of the label on the SD-unit
    scores), ``explained_label_variance``, ``explained_feature_variance``: ``(k,)``.
    ``label``: what the positive label is; ``source``: provenance (classifier model id and
    SHA-256, data, sizes), JSON values only.
    """

    feature_mean: Float64Array
    feature_scale: Float64Array
    rotations: Float64Array
    score_mean: Float64Array
    score_std: Float64Array
    label_coefficients: Float64Array
    explained_label_variance: Float64Array
    explained_feature_variance: Float64Array
    n_samples: int
    label: str = "pneumoconiosis"
    source: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in _ARRAYS:
            set_(self, name, _readonly(getattr(self, name)))
        set_(self, "source", MappingProxyType(dict(self.source)))
        f, k = self.feature_dim, self.n_components
        expected = {
            "feature_mean": (f,),
            "feature_scale": (f,),
            "rotations": (f, k),
            "score_mean": (k,),
            "score_std": (k,),
            "label_coefficients": (k,),
            "explained_label_variance": (k,),
            "explained_feature_variance": (k,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ModelError(
                    f"PLS array {name} has shape {getattr(self, name).shape}, expected {shape}"
                )
            if not np.all(np.isfinite(getattr(self, name))):
                raise ModelError(f"PLS array {name} holds NaN or infinity")
        if np.any(self.feature_scale <= 0) or np.any(self.score_std <= 0):
            raise ModelError("PLS scales must be positive")

    @property
    def n_components(self) -> int:
        return int(self.rotations.shape[1]) if self.rotations.ndim == 2 else 0

    @property
    def feature_dim(self) -> int:
        return int(self.rotations.shape[0]) if self.rotations.ndim == 2 else 0

    def raw_scores(self, features: npt.ArrayLike) -> Float64Array:
        """``(N, F)`` features -> ``(N, k)`` PLS x-scores (before standardisation)."""
        x = self._check(features)
        return ((x - self.feature_mean) / self.feature_scale) @ self.rotations

    def scores(self, features: npt.ArrayLike) -> Float64Array:
        """``(N, F)`` features -> ``(N, k)`` component scores in training SD units."""
        return (self.raw_scores(features) - self.score_mean) / self.score_std

    def linear_map(self) -> tuple[Float64Array, Float64Array]:
        """``(A (F, k), b (k,))`` with ``scores(x) == x @ A + b``: one affine layer for torch."""
        a = self.rotations / self.feature_scale[:, None] / self.score_std[None, :]
        b = -(self.feature_mean / self.feature_scale) @ self.rotations / self.score_std
        b = b - self.score_mean / self.score_std
        return a, b

    def _check(self, features: npt.ArrayLike) -> Float64Array:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.feature_dim:
            raise InputError(
                f"PLS expects features of shape (N, {self.feature_dim}), got {tuple(x.shape)}"
            )
        return x


def fit_pls(
    features: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_components: int = DEFAULT_COMPONENTS,
    *,
    label: str = "pneumoconiosis",
    source: Mapping[str, Any] | None = None,
) -> FeaturePLS:
    """Fit ``n_components`` PLS components of ``features`` ``(N, F)`` against 0/1 ``labels``.

    Raises :class:`InputError` when the data cannot support the fit (both classes needed, at
    least ``n_components + 1`` samples, features with that many independent directions).
    """
    from sklearn.cross_decomposition import PLSRegression  # heavy import, only when fitting

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64).ravel()
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise InputError(
            f"PLS needs features (N, F) and N labels, got {tuple(x.shape)} and {y.shape[0]}"
        )
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise InputError(f"the number of PLS components must be >= 1, got {n_components!r}")
    n, f = x.shape
    if n_components > min(f, n - 1):
        raise InputError(
            f"{n_components} PLS components need at least {n_components + 1} images and "
            f"{n_components} features; got {n} images with {f} features"
        )
    if not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        raise InputError("the classifier features or labels hold NaN or infinity")
    if len(np.unique(y)) < 2:
        raise InputError("PLS against the label needs images of both classes")
    feature_mean = x.mean(axis=0)
    feature_scale = x.std(axis=0, ddof=1)
    # Dead units (a ReLU that never fires on this data) have no variance; scale 1 keeps them at 0.
    feature_scale = np.where(feature_scale > 1e-12, feature_scale, 1.0)
    u = (x - feature_mean) / feature_scale
    model = PLSRegression(n_components=n_components, scale=False)
    model.fit(u, y - y.mean())
    rotations = np.array(model.x_rotations_, dtype=np.float64)
    raw = u @ rotations
    score_std = raw.std(axis=0, ddof=1)
    if np.any(~np.isfinite(score_std)) or np.any(score_std < 1e-9 * max(1.0, raw.std())):
        usable = int(np.sum(score_std >= 1e-9 * max(1.0, raw.std())))
        raise InputError(
            f"the classifier features carry only {usable} usable PLS direction(s) on this data; "
            f"ask for fewer than {n_components} components"
        )
    # Orient every component so that a higher score means more of the positive label.
    signs = np.sign(((raw - raw.mean(axis=0)) * (y - y.mean())[:, None]).sum(axis=0))
    signs[signs == 0] = 1.0
    rotations = rotations * signs
    raw = raw * signs
    score_mean = raw.mean(axis=0)
    scores = (raw - score_mean) / score_std
    explained_label, coefficients = _label_shares(scores, y)
    total = float((u * u).sum())
    feature_shares = np.empty(n_components)
    for j in range(n_components):
        t = raw[:, j] - score_mean[j]
        loading = u.T @ t / float(t @ t)  # the part of the features this score reconstructs
        # ||t p^T||^2 = ||t||^2 ||p||^2: the variance of that rank-one reconstruction
        feature_shares[j] = float(t @ t) * float(loading @ loading) / total if total else 0.0
    return FeaturePLS(
        feature_mean=feature_mean,
        feature_scale=feature_scale,
        rotations=rotations,
        score_mean=score_mean,
        score_std=score_std,
        label_coefficients=coefficients,
        explained_label_variance=explained_label,
        explained_feature_variance=feature_shares,
        n_samples=n,
        label=label,
        source=dict(source or {}),
    )


def _label_shares(scores: Float64Array, y: Float64Array) -> tuple[Float64Array, Float64Array]:
    """Per-component increase of R^2 of the label, and the full least-squares coefficients."""
    k = scores.shape[1]
    centred = y - y.mean()
    total = float(centred @ centred)
    shares = np.empty(k)
    previous = 0.0
    coefficients = np.zeros(k)
    for j in range(1, k + 1):
        design = scores[:, :j]
        coefficients_j, *_ = np.linalg.lstsq(design, centred, rcond=None)
        residual = centred - design @ coefficients_j
        r2 = 1.0 - float(residual @ residual) / total if total else 0.0
        shares[j - 1] = max(0.0, r2 - previous)
        previous = r2
        coefficients = coefficients_j
    return shares, coefficients


# --------------------------------------------------------------------------- persistence


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_pls(pls: FeaturePLS, directory: str | os.PathLike[str]) -> Path:
    """Write ``pls.safetensors`` and ``pls.json`` into ``directory`` (atomically); the json path."""
    folder = Path(directory)
    tensors = {name: np.ascontiguousarray(getattr(pls, name)) for name in _ARRAYS}
    data = save_safetensors_bytes(tensors, metadata={"format": str(PLS_FORMAT_VERSION)})
    config = {
        "format_version": PLS_FORMAT_VERSION,
        "n_components": pls.n_components,
        "feature_dim": pls.feature_dim,
        "n_samples": pls.n_samples,
        "label": pls.label,
        "explained_label_variance": [float(v) for v in pls.explained_label_variance],
        "explained_feature_variance": [float(v) for v in pls.explained_feature_variance],
        "condition": "standardised PLS x-scores (training SD units); + = toward " + pls.label,
        "source": _jsonable(dict(pls.source)),
        "sha256": _sha256(data),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / PLS_WEIGHTS_FILE) as temporary:
            temporary.write_bytes(data)
        write_text_atomically(
            folder / PLS_CONFIG_FILE, json.dumps(config, indent=2, allow_nan=False) + "\n"
        )
    except OSError as error:
        raise ModelError(f"cannot write the PLS files to {folder}: {error.strerror}") from None
    return folder / PLS_CONFIG_FILE


def load_pls(directory: str | os.PathLike[str]) -> FeaturePLS:
    """Read the PLS written by :func:`save_pls`; :class:`ModelError` on any problem."""
    folder = Path(directory)
    config_path, weights_path = folder / PLS_CONFIG_FILE, folder / PLS_WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(
            f"{folder.name} has no PLS projection ({PLS_CONFIG_FILE} and {PLS_WEIGHTS_FILE})"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        data = weights_path.read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read the PLS projection in {folder.name}: {error}") from None
    if not isinstance(config, dict) or config.get("format_version") != PLS_FORMAT_VERSION:
        raise ModelError(f"{folder.name}/{PLS_CONFIG_FILE} is not a PLS file this build reads")
    if _sha256(data) != str(config.get("sha256", "")).lower():
        raise ModelError(
            f"{folder.name}/{PLS_WEIGHTS_FILE} does not match the sha256 in {PLS_CONFIG_FILE}; "
            "the file is corrupt or was replaced"
        )
    try:
        tensors = load_safetensors_bytes(data)
        arrays = {name: tensors[name] for name in _ARRAYS}
        source = config.get("source", {})
        return FeaturePLS(
            **arrays,
            n_samples=int(config["n_samples"]),
            label=str(config.get("label", "pneumoconiosis")),
            source=source if isinstance(source, dict) else {},
        )
    except (SafetensorError, KeyError, ValueError, TypeError) as error:
        one_line = " ".join(str(error).split())[:200]
        raise ModelError(f"unusable PLS projection in {folder.name}: {one_line}") from None
