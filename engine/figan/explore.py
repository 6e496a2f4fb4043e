"""Per-image FIGAN: reproduce the opened radiograph, then move one component (the feature slider).

1. The lung-field image (outside the lungs set to black, as the classifier sees it) is
   letterboxed to the generator's size.
2. *Inversion* finds the condition ``c`` (component scores, SD units) and the noise ``z`` whose
   generated image is closest to it: ``c`` starts at the classifier's own PLS reading of the image,
   ``z`` at the best of a few seeded draws; Adam (cosine-decayed step) then minimises the mean
   squared pixel error plus a small penalty keeping ``z`` near its prior. An optional ``anchor``
   keeps ``c`` near the classifier's reading; it is off by default because even a weight of 0.01
   outweighed the pixel error and stopped the inversion of a generated image at 50 times the
   error reached without it (0.027 against 0.0005 display units, tiny test model).
3. The component is set to ``-span ... +span`` (default -2 to +2 SD) holding the other components
   and ``z``. Each frame shows the generator's *change* relative to its reconstruction, mapped back
   to the original grid and added to the full-resolution original inside the lungs (the CycleGAN
   frames do the same), so a frame differs from the original only by what the feature changes;
   the reconstruction error is reported separately.
4. Every frame is read back by the classifier: its probability and its component scores (the
   *achieved* scores; the requested one is the frame's position).

The result is a :class:`~engine.explain.frames.FrameSequence` (the slider / GIF interface) whose
frames are :class:`ComponentFrame` s: a ``Frame`` plus the achieved scores.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import CancelledError, InputError, ModelError
from engine.explain.difference import signed_difference, symmetric_limit
from engine.explain.edit_field import editable, kept_devices
from engine.explain.frames import Frame, FrameSequence, StoredImages, is_monotonic
from engine.figan.features import ScoreProjector
from engine.figan.measures import pearson
from engine.figan.pls import FeaturePLS, load_pls
from engine.geometry import from_model
from engine.inference.model_input import model_input, model_intensity
from engine.inference.model_set import CLASSIFIER_ID, DEVICE_SEGMENTER_ID, SEGMENTER_ID
from engine.inference.run import batch_tensor, model_size, segment_lungs
from engine.models import LoadedModel, load_bundle
from engine.networks import Architecture, ConditionalGenerator
from engine.types import FloatImage, Radiograph, readonly

log = logging.getLogger(__name__)

FIGAN_ID = "figan"
#: Inversion error (mean absolute, display units, lung field) above which a warning is shown.
ROUGH_RECONSTRUCTION = 0.05
#: Requested-vs-achieved correlation below which the slider is flagged as not doing what it says.
WEAK_CORRELATION = 0.9
#: Components explaining less label variance than this are flagged (the paper's caution).
MINOR_COMPONENT = 0.02

ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class FiganModels:
    """The FIGAN generator with its PLS projection, the classifier it explains, the segmenter
    and the device segmenter (whose devices the slider leaves unchanged)."""

    generator: LoadedModel
    pls: FeaturePLS
    classifier: LoadedModel
    segmenter: LoadedModel | None
    devices: LoadedModel | None = None

    @property
    def network(self) -> ConditionalGenerator:
        module = self.generator.module
        if not isinstance(module, ConditionalGenerator):  # load_bundle checked the architecture
            raise ModelError("the FIGAN bundle does not hold a conditional generator")
        return module

    @property
    def n_components(self) -> int:
        return self.pls.n_components

    def version_label(self) -> str:
        parts = [
            f"{m.config.model_id}@{m.config.sha256[:8]}"
            for m in (self.segmenter, self.classifier, self.generator, self.devices)
            if m is not None
        ]
        return " ".join(parts)

    def projector(self) -> ScoreProjector:
        """Classifier + PLS as one differentiable map at the classifier's size."""
        return ScoreProjector(self.classifier.module, self.pls, model_size(self.classifier))


def check_pairing(generator: LoadedModel, pls: FeaturePLS, classifier: LoadedModel) -> None:
    """:class:`ModelError` unless generator, PLS and classifier were made for one another."""
    n_conditions = generator.config.architecture_kwargs.get("n_conditions")
    if n_conditions != pls.n_components:
        raise ModelError(
            f"the FIGAN generator takes {n_conditions} components but its PLS has "
            f"{pls.n_components}; the bundle is inconsistent"
        )
    expected = str(pls.source.get("classifier_sha256", ""))
    if expected and expected != classifier.config.sha256:
        raise ModelError(
            f"FIGAN was trained for classifier {pls.source.get('classifier_model_id')}@"
            f"{expected[:8]}, not {classifier.config.model_id}@{classifier.config.sha256[:8]}; "
            "retrain it with `cxr-explain train figan`"
        )


def load_figan_models(
    directory: str | os.PathLike[str],
    device: str = "cpu",
    *,
    classifier: str | os.PathLike[str] | None = None,
) -> FiganModels:
    """Load ``directory/figan`` (generator + PLS), ``directory/classifier`` (or ``classifier``)
    and, when present, ``directory/segmenter`` and ``directory/device_segmenter``."""
    root = Path(directory)
    if not root.is_dir():
        raise ModelError(f"model folder {root.name!r} does not exist")
    figan_dir = root / FIGAN_ID
    if not figan_dir.is_dir():
        raise ModelError(
            f"model folder {root.name!r} has no FIGAN model ({FIGAN_ID}/); "
            "train one with `cxr-explain train figan`"
        )
    generator = load_bundle(figan_dir, Architecture.FIGAN_GENERATOR, device)
    pls = load_pls(figan_dir)
    classifier_dir = Path(classifier) if classifier is not None else root / CLASSIFIER_ID
    loaded_classifier = load_bundle(classifier_dir, Architecture.CLASSIFIER, device)
    check_pairing(generator, pls, loaded_classifier)
    segmenter_dir = root / SEGMENTER_ID
    segmenter = (
        load_bundle(segmenter_dir, Architecture.UNET, device) if segmenter_dir.is_dir() else None
    )
    devices_dir = root / DEVICE_SEGMENTER_ID
    devices = load_bundle(devices_dir, Architecture.UNET, device) if devices_dir.is_dir() else None
    return FiganModels(generator, pls, loaded_classifier, segmenter, devices)


# --------------------------------------------------------------------------- inversion


@dataclass(frozen=True, slots=True, eq=False)
class Inversion:
    """The condition and noise that reproduce an image, and how well.

    ``condition``: ``(k,)`` SD units; ``measured``: ``(k,)`` the classifier's PLS reading of the
    target; ``latent``: ``(L,)``; ``reconstruction`` / ``target``: ``(S, S)`` display units at the
    generator's size; ``error``: mean absolute difference in display units over the lung field
    (the whole image without a mask).
    """

    condition: npt.NDArray[np.float64]
    measured: npt.NDArray[np.float64]
    latent: npt.NDArray[np.float32]
    reconstruction: FloatImage
    target: FloatImage
    error: float


def invert(
    generator: nn.Module,
    projector: ScoreProjector,
    target: torch.Tensor,
    lung: torch.Tensor | None = None,
    *,
    steps: int = 200,
    lr: float = 0.05,
    restarts: int = 8,
    anchor: float = 0.0,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> Inversion:
    """Find ``(c, z)`` with ``G(c, z)`` close to ``target`` ``(1, 1, S, S)`` in model units.

    ``lung``: ``(1, 1, S, S)`` 0/1, where the error is measured (optional). Deterministic for a
    ``seed``; the global RNG is not touched. The generator's parameters are not changed.
    """
    if not isinstance(generator, ConditionalGenerator):
        raise ModelError("inversion needs the FIGAN conditional generator")
    if target.ndim != 4 or target.shape[:2] != (1, 1):
        raise InputError(f"inversion target must be (1, 1, S, S), got {tuple(target.shape)}")
    if target.shape[-1] != generator.size or target.shape[-2] != generator.size:
        raise InputError(
            f"inversion target must be {generator.size} px, got {tuple(target.shape[-2:])}"
        )
    generator.eval()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    try:
        with torch.no_grad():
            measured = projector(target)[0].detach()
            rng = torch.Generator().manual_seed(seed)
            candidates = torch.cat(
                [
                    torch.zeros(1, generator.latent_dim),
                    torch.randn(restarts, generator.latent_dim, generator=rng),
                ]
            ).to(target.device)
            images = generator(measured.expand(len(candidates), -1), candidates)
            errors = ((images - target) ** 2).flatten(1).mean(dim=1)
            best = int(torch.argmin(errors))
        condition = measured.clone().requires_grad_(True)
        latent = candidates[best : best + 1].clone().requires_grad_(True)
        optimizer = torch.optim.Adam([condition, latent], lr=lr)
        # cosine decay: large steps find the basin, small ones settle in it
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
        for _ in range(steps):
            if cancel is not None and cancel.is_set():
                raise CancelledError("FIGAN inversion cancelled")
            optimizer.zero_grad(set_to_none=True)
            image = generator(condition, latent)
            loss = (
                F.mse_loss(image, target)
                + anchor * ((condition - measured) ** 2).mean()
                + 1e-3 * (latent**2).mean()
            )
            loss.backward()
            optimizer.step()
            schedule.step()
        with torch.no_grad():
            reconstruction = generator(condition, latent)
            difference = (reconstruction - target).abs() / 2.0
            if lung is not None and float(lung.sum()) > 0:
                error = float((difference * lung).sum() / lung.sum())
            else:
                error = float(difference.mean())
    finally:
        for parameter in generator.parameters():
            parameter.requires_grad_(True)

    def display(tensor: torch.Tensor) -> FloatImage:
        array = ((tensor[0, 0].detach().float().cpu().numpy() + 1.0) / 2.0).clip(0.0, 1.0)
        return readonly(array.astype(np.float32))

    return Inversion(
        condition=readonly(condition.detach().double().cpu().numpy()[0]),
        measured=readonly(measured.double().cpu().numpy()[0]),
        latent=readonly(latent.detach().float().cpu().numpy()[0]),
        reconstruction=display(reconstruction),
        target=display(target),
        error=error,
    )


# --------------------------------------------------------------------------- the slider


@dataclass(frozen=True, slots=True, eq=False)
class ComponentFrame(Frame):
    """A slider frame along a PLS component: ``position`` is the *requested* score (SD units);
    ``scores`` the classifier's component scores of the frame (all ``k``, SD units)."""

    scores: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ExploreRequest:
    """``component``: 0-based index; frames at ``n_frames`` evenly spaced scores in
    ``[-span, span]`` SD; ``inversion_steps``: Adam steps of the inversion."""

    component: int
    n_frames: int = 9
    span: float = 2.0
    inversion_steps: int = 200
    request_id: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.component, bool) or not isinstance(self.component, int):
            raise ValueError(f"component must be an int, got {self.component!r}")
        if self.component < 0:
            raise ValueError(f"component must be >= 0, got {self.component}")
        if self.n_frames < 2:
            raise ValueError(f"n_frames must be at least 2, got {self.n_frames}")
        if not 0.0 < self.span <= 4.0:
            raise ValueError(f"span must be within (0, 4] SD, got {self.span}")
        if self.inversion_steps < 0:
            raise ValueError(f"inversion_steps must be >= 0, got {self.inversion_steps}")


@dataclass(frozen=True, slots=True, eq=False)
class FeatureExploration:
    """One image's FIGAN slider along one component.

    ``sequence``: the frames (``ComponentFrame``) in the slider interface; ``requested``:
    ``(n,)`` the positions; ``achieved``: ``(n, k)`` the classifier's component scores per frame;
    ``generated``: ``(n, S, S)`` the generator's own images (display units, model grid, lung field
    only); ``score_correlation``: Pearson r of requested vs achieved for the component;
    ``explained_label_variance``: of this component (share of the label's variance).
    """

    request_id: int
    model_label: str
    component: int
    original: FloatImage
    lung: npt.NDArray[np.bool_]
    inversion: Inversion
    sequence: FrameSequence
    requested: npt.NDArray[np.float64]
    achieved: npt.NDArray[np.float64]
    generated: npt.NDArray[np.float32]
    score_correlation: float
    explained_label_variance: float
    warnings: tuple[str, ...]
    keep: npt.NDArray[np.bool_] | None = None  # pixels no frame changes (devices), or None


def _check(
    cancel: threading.Event | None, progress: ProgressCallback | None, f: float, s: str
) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("FIGAN exploration cancelled")
    if progress is not None:
        progress(f, s)


@torch.no_grad()
def _read_back(
    projector: ScoreProjector, images: list[FloatImage], lung: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Component scores ``(n, k)`` and probabilities ``(n,)`` of intensity images' lung fields
    (built by the model-input path the classifier was trained on)."""
    fields = [model_input(image, lung, projector.input_size).field for image in images]
    scores, logits = projector(batch_tensor(fields))
    return scores.double().numpy(), torch.sigmoid(logits.double()).numpy()


def explore(
    radiograph: Radiograph,
    models: FiganModels,
    request: ExploreRequest,
    *,
    lung_mask: npt.NDArray[np.bool_] | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> FeatureExploration:
    """The FIGAN slider of ``radiograph`` along ``request.component`` (see module docstring).

    ``lung_mask``: ``(H, W)`` bool on the display grid; when None the segmenter finds the lungs
    (the whole image without one, with a warning). Runs on the models' device (CPU here).
    """
    k = models.n_components
    if request.component >= k:
        raise InputError(f"component {request.component + 1} does not exist: FIGAN has {k}")
    warnings: list[str] = []
    original = model_intensity(radiograph)
    if lung_mask is not None:
        if lung_mask.shape != original.shape:
            raise InputError(
                f"lung mask shape {lung_mask.shape} is not the image's {original.shape}"
            )
        lung = np.asarray(lung_mask, dtype=bool)
    elif models.segmenter is not None:
        right, left = segment_lungs(models.segmenter, original)
        lung = right | left
    else:
        lung = np.ones(original.shape, dtype=bool)
        warnings.append("no lung segmenter: the whole image is treated as lung field")
    if lung.mean() < 0.02:
        raise InputError("almost no lung field found: is this a frontal chest radiograph?")
    _check(cancel, progress, 0.1, "lung field")
    generator = models.network
    # Devices are not the feature: every frame keeps them.
    keep = kept_devices(models.devices, original, generator.size)
    projector = models.projector()
    prepared = model_input(original, lung, generator.size)
    box = prepared.box
    target = batch_tensor([prepared.field])
    lung_model = torch.from_numpy(np.array(prepared.lung))
    inversion = invert(
        generator,
        projector,
        target,
        lung_model[None, None],
        steps=request.inversion_steps,
        seed=request.seed,
        cancel=cancel,
    )
    _check(cancel, progress, 0.7, "inversion")
    positions = np.linspace(-request.span, request.span, request.n_frames)
    base = torch.from_numpy(np.array(inversion.condition)).float()[None]
    conditions = base.repeat(request.n_frames, 1)
    conditions[:, request.component] = torch.from_numpy(positions).float()
    latent = torch.from_numpy(np.array(inversion.latent))[None]
    with torch.no_grad():
        generated = generator(conditions, latent.repeat(request.n_frames, 1))
        reconstruction = generator(base, latent)
    change_model = ((generated - reconstruction) / 2.0)[:, 0].numpy()
    changed = editable(lung, keep)
    images = []
    for change in change_model:
        change_grid = from_model(change, box)
        image = np.clip(original + np.where(changed, change_grid, np.float32(0.0)), 0.0, 1.0)
        images.append(image.astype(np.float32))
    achieved, probabilities = _read_back(projector, images, lung)
    _check(cancel, progress, 0.9, "read back")
    differences = [signed_difference(original, image) for image in images]
    frames = tuple(
        ComponentFrame(
            position=float(p),
            probability=float(probability),
            source=StoredImages(readonly(image), readonly(difference)),
            scores=tuple(float(s) for s in scores),
        )
        for p, image, difference, probability, scores in zip(
            positions, images, differences, probabilities, achieved, strict=True
        )
    )
    correlation = pearson(positions, achieved[:, request.component])
    share = float(models.pls.explained_label_variance[request.component])
    name = f"component {request.component + 1}"
    if inversion.error > ROUGH_RECONSTRUCTION:
        warnings.append(
            f"the FIGAN generator reproduces this image only roughly (mean lung-field error "
            f"{inversion.error:.3f}); the frames show the feature on an approximation"
        )
    if not np.isfinite(correlation) or correlation < WEAK_CORRELATION:
        warnings.append(
            f"the classifier's reading of {name} follows the slider only weakly "
            f"(r = {correlation:.2f})"
        )
    if share < MINOR_COMPONENT:
        warnings.append(
            f"{name} explains only {100 * share:.1f} % of the label variance; "
            "interpret with caution"
        )
    sequence = FrameSequence(
        axis=f"PLS {name}",
        frames=frames,
        difference_limit=symmetric_limit(*differences),
        label=models.pls.label,
        monotonic=is_monotonic(tuple(float(p) for p in probabilities)),
        warnings=tuple(warnings),
    )
    display_generated = ((generated[:, 0].numpy() + 1.0) / 2.0).clip(0.0, 1.0).astype(np.float32)
    _check(cancel, progress, 1.0, "done")
    return FeatureExploration(
        request_id=request.request_id,
        model_label=models.version_label(),
        component=request.component,
        original=readonly(np.array(original, dtype=np.float32)),
        lung=readonly(lung),
        inversion=inversion,
        sequence=sequence,
        requested=readonly(positions.astype(np.float64)),
        achieved=readonly(achieved),
        generated=readonly(display_generated),
        score_correlation=correlation,
        explained_label_variance=share,
        warnings=tuple(warnings),
        keep=None if keep is None else readonly(keep),
    )


def summary(result: FeatureExploration) -> dict[str, object]:
    """JSON-ready numbers of an exploration (no image data, no identifiers)."""
    frames: list[Mapping[str, object]] = [
        {
            "requested": frame.position,
            "probability": frame.probability,
            "scores": list(frame.scores) if isinstance(frame, ComponentFrame) else [],
        }
        for frame in result.sequence.frames
    ]
    return {
        "model": result.model_label,
        "component": result.component + 1,
        "explained_label_variance": result.explained_label_variance,
        "inversion_error": result.inversion.error,
        "measured_scores": [float(v) for v in result.inversion.measured],
        "inverted_scores": [float(v) for v in result.inversion.condition],
        "score_correlation": result.score_correlation,
        "monotonic_probability": result.sequence.monotonic,
        "frames": frames,
        "warnings": list(result.warnings),
    }
