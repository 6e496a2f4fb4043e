"""Model calls on display images: ``(H, W)`` float32 in ``[0, 1]`` in, numpy out.

Every model sees its input letterboxed to its training size and scaled to ``[-1, 1]``
(``display * 2 - 1``, background -1); outputs are mapped back to the caller's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from engine.geometry import Letterbox, from_model, to_model
from engine.models import LoadedModel
from engine.types import FloatImage


def model_size(model: LoadedModel) -> int:
    height, width = model.config.input_size
    return int(max(height, width))


def to_tensor(images: list[FloatImage], box: Letterbox) -> torch.Tensor:
    """Display images on the source grid -> ``(B, 1, S, S)`` model input in ``[-1, 1]``."""
    batch = [to_model(image * 2.0 - 1.0, box, fill=-1.0) for image in images]
    return torch.from_numpy(np.stack(batch)[:, None])


#: Segmenter probabilities in this band count as uncertain (see :func:`segment_lungs_checked`).
UNCERTAIN_BAND = (0.1, 0.9)


@torch.no_grad()
def segment_lungs(model: LoadedModel, display: FloatImage) -> tuple[np.ndarray, np.ndarray]:
    """(right lung, left lung) boolean masks on the display grid (patient's right = image left).

    A one-channel segmenter gives the lung field; it is split at the image midline.
    """
    right, left, _ = segment_lungs_checked(model, display)
    return right, left


@torch.no_grad()
def segment_lungs_checked(
    model: LoadedModel, display: FloatImage
) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`segment_lungs` plus its uncertainty: pixels with a probability in
    ``UNCERTAIN_BAND`` per pixel of found lung (at the model's resolution).

    On chest radiographs like the training data the lung border alone is uncertain (~0.02-0.03
    on held-out phantoms); CT, MR, ultrasound and noise images gave 0.36-1.27.
    """
    box = Letterbox.fit(display.shape, model_size(model))
    probabilities = torch.sigmoid(model.module(to_tensor([display], box)))[0].numpy()
    strongest = probabilities.max(axis=0)
    low, high = UNCERTAIN_BAND
    uncertain = float(((strongest > low) & (strongest < high)).sum())
    # Per found lung pixel, but never per fewer than 1 % of the image: with (almost) no lung
    # found the ratio would explode, and that case has its own warning.
    found = max(float((strongest >= 0.5).sum()), 0.01 * strongest.size, 1.0)
    uncertainty = uncertain / found
    masks = [from_model(p, box) >= 0.5 for p in probabilities]
    if len(masks) >= 2:
        return masks[0], masks[1], uncertainty
    field = masks[0]
    right, left = field.copy(), field.copy()
    middle = display.shape[1] // 2
    right[:, middle:] = False
    left[:, :middle] = False
    return right, left, uncertainty


@torch.no_grad()
def classify(model: LoadedModel, images: list[FloatImage]) -> np.ndarray:
    """Probability of the positive label for each display image, ``(B,)`` float64."""
    box = Letterbox.fit(images[0].shape, model_size(model))
    logits = model.module(to_tensor(images, box))
    return torch.sigmoid(logits.double()).numpy()


@dataclass(frozen=True, slots=True, eq=False)
class Translation:
    """One generator pass. ``change``: ``G(x) - x`` in display units on the display grid;
    ``model_input`` / ``model_output``: ``x`` and ``G(x)``, ``(S, S)`` model units in [-1, 1];
    ``model_lung``: the lung field's share of each model pixel (``(S, S)`` in [0, 1], resampled
    like the image, so that strength 0 gives back exactly the classifier's input)."""

    change: FloatImage
    model_input: npt.NDArray[np.float32]
    model_output: npt.NDArray[np.float32]
    model_lung: npt.NDArray[np.float32]

    def model_blend(self, strength: float) -> npt.NDArray[np.float32]:
        """``x + strength * lung * (G(x) - x)`` in [-1, 1]: the change inside the lung field."""
        change = self.model_lung * (self.model_output - self.model_input)
        return np.clip(self.model_input + strength * change, -1.0, 1.0).astype(np.float32)


@torch.no_grad()
def translate(model: LoadedModel, display: FloatImage, lung: np.ndarray) -> Translation:
    """Run the generator on the lung-field image ``display`` (lung mask ``lung``, same grid).

    The change is computed at the model's resolution and added to the full-resolution original
    by the caller: a difference image then shows only what the model changed, and the original's
    detail stays.
    """
    box = Letterbox.fit(display.shape, model_size(model))
    model_input = to_tensor([display], box)
    output = model.module(model_input)
    change_model = ((output - model_input) / 2.0)[0, 0].numpy()
    model_lung = to_model(lung.astype(np.float32), box, fill=0.0)
    return Translation(
        change=from_model(change_model, box),
        model_input=model_input[0, 0].numpy(),
        model_output=output[0, 0].numpy(),
        model_lung=model_lung,
    )


@torch.no_grad()
def classify_model_inputs(
    model: LoadedModel, inputs: list[npt.NDArray[np.float32]]
) -> npt.NDArray[np.float64]:
    """Probability of the positive label for ``(S, S)`` inputs already in model units."""
    batch = torch.from_numpy(np.stack(inputs)[:, None].astype(np.float32))
    return torch.sigmoid(model.module(batch).double()).numpy()
