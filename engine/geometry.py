"""Letterboxing: fit an image of any aspect ratio into the square model input and map back.

The whole image is scaled by one factor (aspect ratio kept) and centred on a square canvas; the
inverse crops the content region and scales it back onto the original pixel grid, so a model
output lands on the pixels it was computed from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.types import FloatImage


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where an ``source_shape`` image sits inside a ``size`` x ``size`` model input."""

    source_shape: tuple[int, int]
    size: int
    content_shape: tuple[int, int]
    offset: tuple[int, int]  # (top, left) of the content on the canvas

    @classmethod
    def fit(cls, source_shape: tuple[int, int], size: int) -> Letterbox:
        height, width = source_shape
        if height <= 0 or width <= 0:
            raise ValueError(f"source_shape must be positive, got {source_shape}")
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        scale = size / max(height, width)
        content = (max(1, round(height * scale)), max(1, round(width * scale)))
        offset = ((size - content[0]) // 2, (size - content[1]) // 2)
        return cls((height, width), size, content, offset)

    def content_slices(self) -> tuple[slice, slice]:
        top, left = self.offset
        return slice(top, top + self.content_shape[0]), slice(left, left + self.content_shape[1])


def resample(images: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``(B, C, h, w) -> (B, C, *shape)``, antialiased bilinear: how every model input and every
    mapped-back model output is resampled (differentiable, for training on that path)."""
    if tuple(images.shape[-2:]) == shape:
        return images
    return F.interpolate(images, size=shape, mode="bilinear", align_corners=False, antialias=True)


def resize(image: np.ndarray, shape: tuple[int, int], *, nearest: bool = False) -> FloatImage:
    """Resize a 2-D array to ``shape`` (antialiased bilinear, or nearest for labels/masks)."""
    if image.shape == shape:
        return np.array(image, dtype=np.float32)
    array = np.ascontiguousarray(image, dtype=np.float32)
    if not array.flags.writeable:  # torch warns on read-only arrays (results are read-only)
        array = array.copy()
    tensor = torch.from_numpy(array)[None, None]
    if nearest:
        out = F.interpolate(tensor, size=shape, mode="nearest-exact")
    else:
        out = resample(tensor, shape)
    return out[0, 0].numpy()


def to_model(
    image: np.ndarray, box: Letterbox, fill: float, *, nearest: bool = False
) -> FloatImage:
    """Place ``image`` (``box.source_shape``) on a square canvas filled with ``fill``."""
    if image.shape != box.source_shape:
        raise ValueError(f"image shape {image.shape} does not match {box.source_shape}")
    canvas = np.full((box.size, box.size), fill, dtype=np.float32)
    canvas[box.content_slices()] = resize(image, box.content_shape, nearest=nearest)
    return canvas


def from_model(model_image: np.ndarray, box: Letterbox, *, nearest: bool = False) -> FloatImage:
    """Crop the content of a ``size`` x ``size`` model output and map it back to the source grid."""
    if model_image.shape != (box.size, box.size):
        raise ValueError(f"model image shape {model_image.shape} is not {(box.size, box.size)}")
    return resize(model_image[box.content_slices()], box.source_shape, nearest=nearest)
