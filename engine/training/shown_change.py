"""A generator's change as the classifier meets it in the explanation the user sees.

The explanation pipeline draws the change at the generator's size, maps it back onto the file's
own pixel grid (:func:`engine.geometry.from_model`), adds it there, and the classifier reads that
composite through :func:`engine.inference.model_input.model_input` (resampled to its size, or
blurred when no resampling is needed). Resampling is linear, so the change the classifier sees is
the model-grid change taken through the same two steps; this module does that in torch, so that
classifier guidance can be trained on it.

Why not resample straight from the generator's size to the classifier's: a change that flips the
classifier that way need not flip it as displayed. A 128 px CycleGAN guided by a 512 px
classifier through the direct 128 -> 512 px resampling moved 256 px files to P 0.01-0.05 in that
composite and to 0.50-0.72 in the one the user sees (128 -> 256 -> 512 px): its change was a fine
texture that the extra resampling step smooths away (docs/training.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from engine.blur import gaussian_kernel
from engine.geometry import Letterbox, resample
from engine.inference.model_input import UNRESAMPLED_SIGMA


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """:func:`engine.blur.gaussian_blur` in torch (its taps, edge-replicated borders)."""
    if sigma <= 0.0:
        return image
    kernel = torch.from_numpy(gaussian_kernel(sigma)).to(image.dtype).to(image.device)
    radius, channels = len(kernel) // 2, image.shape[1]
    rows = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    columns = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    out = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), columns, groups=channels)
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="replicate"), rows, groups=channels)


def change_as_shown(
    change: torch.Tensor, source_shapes: Sequence[tuple[int, int]], size: int
) -> torch.Tensor:
    """``change``: ``(B, C, s, s)`` on the generator's letterboxed grid, sample ``i`` from a file
    of ``source_shapes[i]`` pixels. Returns ``(B, C, size, size)``: that change as the classifier
    reading ``size`` px sees it in the displayed composite (zero in the letterbox margins)."""
    if change.shape[0] != len(source_shapes):
        raise ValueError(f"{change.shape[0]} changes but {len(source_shapes)} source shapes")
    side = int(change.shape[-1])
    out = change.new_zeros((change.shape[0], change.shape[1], size, size))
    for index, shape in enumerate(source_shapes):
        source = (int(shape[0]), int(shape[1]))
        drawn, read = Letterbox.fit(source, side), Letterbox.fit(source, size)
        on_file = resample(change[index : index + 1][(..., *drawn.content_slices())], source)
        if read.content_shape == source:  # model_input blurs what it does not resample
            seen = _blur(on_file, UNRESAMPLED_SIGMA)
        else:
            seen = resample(on_file, read.content_shape)
        rows, columns = read.content_slices()
        out[index : index + 1, :, rows, columns] = seen
    return out
