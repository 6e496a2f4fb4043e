"""Constrained counterfactual generator: a signed change added to the input, inside the lungs only.

The paper's generator redraws the whole lung-field image; every pixel it outputs can differ from
the input, so a faithful counterfactual must be learnt rather than guaranteed (and devices,
vessels and ribs inside the lungs change as much as the disease). This network keeps the paper's
body (:class:`~engine.networks.generator.CycleGANGenerator`, Table 1) but reads its ``tanh``
output as a *change*:

    output = clamp(x + max_change * body(x) * edit, -1, 1)

where ``edit`` is the *edit mask*: the lung field of the input (every pixel above the lung-field
image's background, -1) minus an optional *keep mask* (foreign objects: the phantom's ground truth
during training, where the data carry one). A pixel outside the edit mask is returned unchanged,
exactly, whatever the weights; ``change`` exposes the signed change itself for the sparsity term
(after VA-GAN's additive maps and RadEdit's edit/keep masks).

``sign`` optionally fixes the change's direction: ``+1`` may only brighten, ``-1`` only darken
(``0``, the default, either). Pneumoconiotic opacities attenuate more than the lung around them,
so a translation toward disease adds brightness and one toward healthy takes it away; a texture
of alternating signs, the cheapest pattern that moves a classifier reading fine texture, is then
out of reach. With a sign the body's ``tanh`` output ``t`` becomes the magnitude
``max_change * (1 + t) / 2``, and the last convolution starts at a bias that makes it about
2 % of ``max_change`` (exactly zero would leave no gradient to grow from).

``edit_margin`` optionally keeps a band of that many pixels along the inside of the lung field's
edge out of the edit mask. Guided by the 512 px classifier with a strong sparsity term, the
generator put nearly all of its change there (bright caps at the apices, stripes along the
diaphragm), and that band alone flipped the classifier while the rest of the change did not
(docs/validation/generators.md): the field's edge is a shortcut, not the finding.

Shape contract: ``(B, 1, H, W)`` in ``[-1, 1]`` -> the same; ``keep``: ``(B, 1, H, W)`` 0/1 or
None. ``H`` and ``W`` as for the paper generator (multiples of 4, at least 8). The weights' keys
are the paper generator's under ``body.``, so a paper generator's weights can start it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.networks.attention import DEFAULT_CHUNK_SIZE, AttentionMode
from engine.networks.generator import CycleGANGenerator, Upsampling

#: Model units of the lung-field image's background (engine.inference.model_input.BACKGROUND).
BACKGROUND = -1.0
#: A pixel belongs to the edit mask when it is this far above the background.
_FIELD_TOLERANCE = 1e-4
#: Starting bias of the last convolution with a fixed sign: (1 + tanh(-2)) / 2 = 0.018.
_SIGNED_START_BIAS = -2.0


class ConstrainedGenerator(nn.Module):
    """Additive, masked counterfactual generator (see the module docstring).

    Args:
        base_width, n_residual_blocks, attention, attention_mode, attention_chunk_size,
        norm_affine, upsampling: as for :class:`CycleGANGenerator` (one input and one output
        channel).
        max_change: the largest change per pixel, in model units (2 = the whole range).
        sign: +1 brightens only, -1 darkens only, 0 either way (see the module docstring).
        edit_margin: pixels along the inside of the lung field's edge that never change.
    """

    def __init__(
        self,
        *,
        base_width: int = 64,
        n_residual_blocks: int = 9,
        attention: bool = True,
        attention_mode: AttentionMode | str = AttentionMode.CHUNKED,
        attention_chunk_size: int = DEFAULT_CHUNK_SIZE,
        norm_affine: bool = False,
        upsampling: Upsampling | str = Upsampling.TRANSPOSE,
        max_change: float = 1.0,
        sign: int = 0,
        edit_margin: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(max_change, int | float) or not 0.0 < float(max_change) <= 2.0:
            raise ValueError(f"max_change must be in (0, 2], got {max_change!r}")
        if isinstance(sign, bool) or sign not in (-1, 0, 1):
            raise ValueError(f"sign must be -1, 0 or 1, got {sign!r}")
        if isinstance(edit_margin, bool) or not isinstance(edit_margin, int) or edit_margin < 0:
            raise ValueError(f"edit_margin must be a whole number >= 0, got {edit_margin!r}")
        self.max_change = float(max_change)
        self.sign = int(sign)
        self.edit_margin = edit_margin
        self.body = CycleGANGenerator(
            in_channels=1,
            out_channels=1,
            base_width=base_width,
            n_residual_blocks=n_residual_blocks,
            attention=attention,
            attention_mode=attention_mode,
            attention_chunk_size=attention_chunk_size,
            norm_affine=norm_affine,
            upsampling=upsampling,
        )
        # Start as the identity (near it with a sign): the last convolution writes a constant,
        # so the first translations change (almost) nothing and training grows the change from
        # there, not from random noise.
        last = self.body.decoder[-2]
        if not isinstance(last, nn.Conv2d):
            raise TypeError(f"the generator's last layer is a {type(last).__name__}, not a conv")
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.constant_(last.bias, _SIGNED_START_BIAS if self.sign else 0.0)

    def edit_mask(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1, H, W)`` float 0/1: the input's lung field less its ``edit_margin`` band,
        without the keep mask."""
        edit = (x > BACKGROUND + _FIELD_TOLERANCE).to(x.dtype)
        if self.edit_margin:
            # Erosion: a pixel stays when no background lies within the margin (a square).
            size = 2 * self.edit_margin + 1
            edit = -F.max_pool2d(-edit, size, stride=1, padding=self.edit_margin)
        if keep is not None:
            edit = edit * (1.0 - keep.to(x.dtype))
        return edit

    def change(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The signed change (model units) the generator adds, already confined to the mask."""
        t = self.body(x)
        scale = self.max_change * self.edit_mask(x, keep)
        if self.sign:
            return self.sign * scale * (1.0 + t) / 2.0
        return scale * t

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1, H, W)`` in ``[-1, 1]`` -> ``x`` plus the masked change, clamped to [-1, 1]."""
        return torch.clamp(x + self.change(x, keep), -1.0, 1.0)
