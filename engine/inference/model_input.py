"""The one path from a loaded radiograph to what every model sees.

Training, inference, the explanation pipeline, FIGAN, validation and batch runs all build their
model inputs here, so a model never sees at run time an input that was built differently from the
ones it was trained on (issue: healthy phantoms read as diseased because training masked after
resizing and inference before).

Two steps:

1. :func:`model_intensity`: modality values -> ``[0, 1]`` (1 = densest) through
   :func:`model_window`, a robust percentile window of the image's own modality values with the
   polarity applied. It does not depend on the VOI window a file's header makes the default
   display (a real CR carries centre 15000 / width 30000, which washes its lungs out), nor on
   whether the same pixels were stored as 8- or 16-bit.
2. :func:`model_input`: letterbox to the model's square size with antialiased bilinear
   resampling (fill = background; an image already at the model's size is smoothed as a
   resampling would, see :data:`UNRESAMPLED_SIGMA`), resample the full-resolution lung mask the
   same way as an area fraction and keep model pixels that are at least half lung, then set
   everything outside to the background: the *lung-field image* of the paper.

Model units: ``intensity * 2 - 1`` in ``[-1, 1]``; the background (outside the lungs and the
letterbox margins) is ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.blur import gaussian_blur
from engine.geometry import Letterbox, to_model
from engine.io.grayscale import auto_window
from engine.types import FloatImage, Radiograph, VoiPreset, readonly

#: Model units of intensity 0 (black): the lung field's background and the letterbox margins.
BACKGROUND = -1.0
#: A model pixel belongs to the lung field when at least this share of it is lung.
LUNG_SHARE = 0.5
MODEL_WINDOW_NAME = "model"
#: Gaussian sigma (model pixels) for an image whose letterbox needs no resampling. Every other
#: size passes through interpolation, which smooths; an image exactly at the model's size did
#: not, and its sharper noise and edges read as disease (healthy phantoms at the classifier's
#: 384 px were called diseased far more often than at 376 or 392 px). Sigma 0.5 brought their
#: logits to those of the same anatomies at 376 and 392 px (docs/validation/resolution.md).
UNRESAMPLED_SIGMA = 0.5


def model_window(radiograph: Radiograph) -> VoiPreset:
    """The intensity window of the models: the 0.5-99.5 percentile range of the modality values.

    The percentiles are taken over the whole image: the unattenuated background and the densest
    tissue set the ends, which a lung disease does not move (it changes a minority of mid-range
    pixels). Polarity is applied afterwards by :meth:`Radiograph.display`.
    """
    window = auto_window(radiograph.pixels, MODEL_WINDOW_NAME)
    return window


def model_intensity(radiograph: Radiograph) -> FloatImage:
    """``(H, W)`` float32 in ``[0, 1]`` (1 = densest): the image every model input starts from."""
    return radiograph.display(model_window(radiograph))


@dataclass(frozen=True, slots=True, eq=False)
class ModelInput:
    """One image as a model sees it at ``box.size``.

    ``whole``: ``(S, S)`` float32 in ``[-1, 1]``, the letterboxed image (the segmenter's input).
    ``field``: ``(S, S)`` float32, ``whole`` inside the lung field, :data:`BACKGROUND` outside (what
    the classifier and the generators see); equal to ``whole`` when there is no mask.
    ``lung``: ``(S, S)`` float32 0/1 lung field at model resolution (all ones without a mask).
    ``lung_share``: ``(S, S)`` float32 in ``[0, 1]``, the lung's area share of each model pixel.
    """

    whole: npt.NDArray[np.float32]
    field: npt.NDArray[np.float32]
    lung: npt.NDArray[np.float32]
    lung_share: npt.NDArray[np.float32]
    box: Letterbox


def model_input(
    intensity: FloatImage, lung: npt.NDArray[np.generic] | None, size: int
) -> ModelInput:
    """Build the model input of an ``intensity`` image (``(H, W)`` in ``[0, 1]``).

    ``lung``: ``(H, W)`` boolean (or 0/1) lung mask on the same grid, or None for the whole image.
    """
    shape = (int(intensity.shape[0]), int(intensity.shape[1]))
    box = Letterbox.fit(shape, size)
    scaled = np.asarray(intensity, dtype=np.float32) * 2.0 - 1.0
    if box.content_shape == shape and UNRESAMPLED_SIGMA > 0:
        scaled = gaussian_blur(scaled, UNRESAMPLED_SIGMA)
    whole = to_model(scaled, box, fill=BACKGROUND)
    np.clip(whole, -1.0, 1.0, out=whole)  # antialiasing may overshoot by rounding only
    if lung is None:
        ones = np.ones_like(whole)
        return ModelInput(readonly(whole), readonly(whole), readonly(ones), readonly(ones), box)
    if lung.shape != shape:
        raise ValueError(f"lung mask shape {lung.shape} does not match the image {shape}")
    share = to_model(np.asarray(lung, dtype=np.float32), box, fill=0.0)
    np.clip(share, 0.0, 1.0, out=share)
    inside = share >= LUNG_SHARE
    field = np.where(inside, whole, np.float32(BACKGROUND)).astype(np.float32)
    return ModelInput(
        readonly(whole),
        readonly(field),
        readonly(inside.astype(np.float32)),
        readonly(share),
        box,
    )
