"""Overlay images for the panes, as RGBA arrays (pure numpy, no Qt).

Built on the worker (``engine_bridge``) so that toggling an overlay on the GUI thread only swaps an
image item's visibility: a 2k x 2k contour or heat map costs tens of milliseconds to compute.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

RgbaImage = npt.NDArray[np.uint8]  # (H, W, 4)
BoolImage = npt.NDArray[np.bool_]

LUNG_CONTOUR_RGB = (80, 230, 120)
#: The outline of what the explanation kept unchanged (devices), drawn with the lung contour.
KEPT_CONTOUR_RGB = (255, 176, 0)
# "inferno"-like stops (black - purple - orange - yellow): bright where the classifier looks.
_HEAT_STOPS = np.array(
    [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=np.float32
)
DEFAULT_OVERLAY_OPACITY = 0.5


class Attribution(StrEnum):
    """Which classifier attribution the original pane may overlay."""

    NONE = "none"
    GRADCAM = "gradcam"
    GRADIENT = "gradient"

    @property
    def label(self) -> str:
        return _ATTRIBUTION_TITLES[self]


_ATTRIBUTION_TITLES = {
    Attribution.NONE: "None",
    Attribution.GRADCAM: "Grad-CAM",
    Attribution.GRADIENT: "Input gradient",
}


def contour_thickness(shape: tuple[int, int]) -> int:
    """Line width in image pixels that stays visible when the image is fitted to a pane."""
    return max(1, round(max(shape) / 400))


def mask_contour(mask: BoolImage, thickness: int = 1) -> BoolImage:
    """Pixels of ``mask`` within ``thickness`` pixels of its border (inner contour)."""
    if thickness < 1:
        raise ValueError(f"thickness must be at least 1, got {thickness}")
    inside = mask.astype(bool)
    eroded = inside.copy()
    for _ in range(thickness):
        eroded = _erode(eroded)
    return inside & ~eroded


def _erode(mask: BoolImage) -> BoolImage:
    """4-neighbour binary erosion; pixels outside the image count as background."""
    padded = np.pad(mask, 1, constant_values=False)
    return (
        padded[1:-1, 1:-1]
        & padded[:-2, 1:-1]
        & padded[2:, 1:-1]
        & padded[1:-1, :-2]
        & padded[1:-1, 2:]
    )


def contour_rgba(
    masks: tuple[BoolImage, ...], rgb: tuple[int, int, int] = LUNG_CONTOUR_RGB
) -> RgbaImage:
    """An opaque ``rgb`` line along the border of each mask, transparent elsewhere."""
    if not masks:
        raise ValueError("contour_rgba needs at least one mask")
    shape = masks[0].shape
    line = np.zeros(shape, dtype=bool)
    for mask in masks:
        if mask.shape != shape:
            raise ValueError("the masks must have one shape")
        line |= mask_contour(mask, contour_thickness(shape))
    out = np.zeros((*shape, 4), dtype=np.uint8)
    out[line] = (*rgb, 255)
    return _readonly(out)


def over(top: RgbaImage, bottom: RgbaImage | None) -> RgbaImage:
    """``top`` drawn over ``bottom`` (opaque lines: wherever ``top`` is drawn it wins)."""
    if bottom is None:
        return top
    out = np.where(top[..., 3:] > 0, top, bottom)
    return _readonly(out.astype(np.uint8))


def field_contour(lungs: tuple[BoolImage, ...], keep: BoolImage | None) -> RgbaImage | None:
    """The lung contour (green), with what the explanation kept unchanged inside the lungs
    (devices) outlined over it in amber; None when there is nothing worth drawing (a lung field
    covering the whole image, as without a segmenter, and nothing kept)."""
    lung = np.logical_or.reduce(lungs)
    contour = contour_rgba(lungs) if not lung.all() else None
    kept = None if keep is None else keep & lung
    if kept is not None and kept.any():
        contour = over(contour_rgba((kept,), KEPT_CONTOUR_RGB), contour)
    return contour


def heat_rgba(values: npt.NDArray[np.float32]) -> RgbaImage:
    """A heat map of ``values`` in ``[0, 1]`` (1 = most relevant): colour and opacity both rise
    with the value, so irrelevant regions leave the radiograph visible."""
    clipped = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0).astype(np.float32)
    position = clipped * (len(_HEAT_STOPS) - 1)
    low = np.minimum(position.astype(np.int64), len(_HEAT_STOPS) - 2)
    weight = (position - low)[..., None]
    rgb = _HEAT_STOPS[low] * (1.0 - weight) + _HEAT_STOPS[low + 1] * weight
    out = np.empty((*clipped.shape, 4), dtype=np.uint8)
    out[..., :3] = np.rint(rgb).astype(np.uint8)
    out[..., 3] = np.rint(255.0 * np.sqrt(clipped)).astype(np.uint8)
    return _readonly(out)


def _readonly(array: RgbaImage) -> RgbaImage:
    array.setflags(write=False)
    return array
