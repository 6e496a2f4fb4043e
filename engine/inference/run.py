"""Model calls on intensity images: ``(H, W)`` float32 in ``[0, 1]`` in, numpy out.

Every input is built by :func:`engine.inference.model_input.model_input` (letterbox, lung field,
model units); outputs are mapped back to the caller's grid. The intensity image is the
radiograph's :func:`~engine.inference.model_input.model_intensity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from engine.geometry import from_model, to_model
from engine.inference.model_input import ModelInput, model_input
from engine.models import LoadedModel
from engine.types import FloatImage


def model_size(model: LoadedModel) -> int:
    height, width = model.config.input_size
    return int(max(height, width))


def batch_tensor(
    inputs: list[npt.NDArray[np.float32]], model: LoadedModel | None = None
) -> torch.Tensor:
    """``(S, S)`` model-unit arrays -> a ``(B, 1, S, S)`` float32 tensor (on ``model``'s device
    when given: training runs these functions on a GPU too)."""
    tensor = torch.from_numpy(np.stack(inputs)[:, None].astype(np.float32, copy=False))
    if model is None:
        return tensor
    parameter = next(model.module.parameters(), None)
    return tensor if parameter is None else tensor.to(parameter.device)


def field_inputs(
    model: LoadedModel, images: list[FloatImage], lung: npt.NDArray[np.generic] | None
) -> list[ModelInput]:
    """The model inputs of ``images`` (same grid) with lung mask ``lung`` at ``model``'s size."""
    size = model_size(model)
    return [model_input(image, lung, size) for image in images]


#: Segmenter probabilities in this band count as uncertain (see :func:`segment_lungs_checked`).
UNCERTAIN_BAND = (0.1, 0.9)


@torch.no_grad()
def segment_lungs(model: LoadedModel, intensity: FloatImage) -> tuple[np.ndarray, np.ndarray]:
    """(right lung, left lung) boolean masks on the image grid (patient's right = image left).

    A one-channel segmenter gives the lung field; it is split at the image midline.
    """
    right, left, _ = segment_lungs_checked(model, intensity)
    return right, left


@torch.no_grad()
def segment_lungs_checked(
    model: LoadedModel, intensity: FloatImage
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`segment_lungs` plus its uncertainty: pixels with a probability in
    ``UNCERTAIN_BAND`` per pixel of found lung (at the model's resolution).

    On chest radiographs like the training data the lung border alone is uncertain (a few
    hundredths on held-out phantoms); CT, MR, ultrasound and noise images give far more.
    """
    prepared = model_input(intensity, None, model_size(model))
    logits = model.module(batch_tensor([prepared.whole], model))
    probabilities = torch.sigmoid(logits)[0].cpu().numpy()
    strongest = probabilities.max(axis=0)
    low, high = UNCERTAIN_BAND
    uncertain = float(((strongest > low) & (strongest < high)).sum())
    # Per found lung pixel, but never per fewer than 1 % of the image: with (almost) no lung
    # found the ratio would explode, and that case has its own warning.
    found = max(float((strongest >= 0.5).sum()), 0.01 * strongest.size, 1.0)
    uncertainty = uncertain / found
    masks = [from_model(p, prepared.box) >= 0.5 for p in probabilities]
    if len(masks) >= 2:
        return masks[0], masks[1], uncertainty
    right, left = split_at_midline(masks[0])
    return right, left, uncertainty


@torch.no_grad()
def find_devices(model: LoadedModel, intensity: FloatImage, grow: int = 0) -> np.ndarray:
    """Foreign objects (pacemaker, wires, ECG leads) found by a device segmenter, ``(H, W)`` bool
    on the image grid, grown by ``grow`` model pixels first (a square neighbourhood)."""
    prepared = model_input(intensity, None, model_size(model))
    logits = model.module(batch_tensor([prepared.whole], model))
    found = (logits[:, :1] >= 0.0).float()  # sigmoid >= 0.5
    if grow > 0:
        found = torch.nn.functional.max_pool2d(found, 2 * grow + 1, stride=1, padding=grow)
    return from_model(found[0, 0].cpu().numpy(), prepared.box) >= 0.5


def split_at_midline(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right lung, left lung) of a one-piece lung field: the image's left half is the patient's
    right."""
    right, left = field.copy(), field.copy()
    middle = field.shape[1] // 2
    right[:, middle:] = False
    left[:, :middle] = False
    return right, left


@torch.no_grad()
def classify(
    model: LoadedModel, images: list[FloatImage], lung: npt.NDArray[np.generic] | None
) -> np.ndarray:
    """Probability of the positive label for each intensity image (one grid, one lung mask),
    ``(B,)`` float64."""
    inputs = [prepared.field for prepared in field_inputs(model, images, lung)]
    return classify_model_inputs(model, inputs)


@dataclass(frozen=True, slots=True, eq=False)
class Translation:
    """One generator pass. ``change``: ``(G(x) - x) / 2`` in intensity units on the image grid;
    ``model_input`` / ``model_output``: ``x`` and ``G(x)``, ``(S, S)`` model units in [-1, 1];
    ``model_lung``: the lung field at model resolution (``(S, S)`` 0/1, what the classifier's
    input keeps), less any model pixel of the caller's keep mask."""

    change: FloatImage
    model_input: npt.NDArray[np.float32]
    model_output: npt.NDArray[np.float32]
    model_lung: npt.NDArray[np.float32]

    def model_blend(self, strength: float) -> npt.NDArray[np.float32]:
        """``x + strength * lung * (G(x) - x)`` in [-1, 1]: the change inside the lung field, at
        the generator's resolution (not what the user sees; see the explanation pipeline)."""
        change = self.model_lung * (self.model_output - self.model_input)
        return np.clip(self.model_input + strength * change, -1.0, 1.0).astype(np.float32)


@torch.no_grad()
def translate(
    model: LoadedModel, intensity: FloatImage, lung: np.ndarray, keep: np.ndarray | None = None
) -> Translation:
    """Run the generator on the lung-field input of ``intensity`` (lung mask ``lung``, same grid).

    The change is computed at the model's resolution and added to the full-resolution original
    by the caller: a difference image then shows only what the model changed, and the original's
    detail stays. ``keep`` (same grid): pixels the caller leaves unchanged; the generator still
    sees them, and ``model_lung`` leaves out every model pixel they touch.
    """
    prepared = model_input(intensity, lung, model_size(model))
    model_in = batch_tensor([prepared.field], model)
    output = model.module(model_in)
    change_model = ((output - model_in) / 2.0)[0, 0].cpu().numpy()
    editable = prepared.lung
    if keep is not None and keep.any():  # the keep mask on the same letterbox as the input
        touched = to_model(keep.astype(np.float32), prepared.box, fill=0.0) > 0.0
        editable = np.where(touched, np.float32(0.0), editable).astype(np.float32)
    return Translation(
        change=from_model(change_model, prepared.box),
        model_input=prepared.field,
        model_output=output[0, 0].cpu().numpy(),
        model_lung=editable,
    )


@torch.no_grad()
def classify_model_inputs(
    model: LoadedModel, inputs: list[npt.NDArray[np.float32]]
) -> npt.NDArray[np.float64]:
    """Probability of the positive label for ``(S, S)`` inputs already in model units."""
    return torch.sigmoid(model.module(batch_tensor(inputs, model)).double()).cpu().numpy()
