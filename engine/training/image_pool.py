"""History of generated images for the discriminator update (Shrivastava et al. 2017).

The reference CycleGAN keeps up to 50 earlier fakes: while the pool is filling, every fake is
stored and returned; afterwards each fake is, with probability 1/2, swapped for a random stored one
(which is returned) or returned as it is. Training the discriminator on this history rather than
only on the latest fakes reduces oscillation.

Unlike the reference, the random draws come from the global torch CPU generator (whose state the
checkpoint saves) and the pool's content is a tensor the checkpoint saves, so a resumed run draws
exactly what an uninterrupted one would.
"""

from __future__ import annotations

import torch

from engine.networks._checks import positive_int


class ImagePool:
    """Up to ``size`` earlier images of shape ``(C, H, W)``; ``size == 0`` turns the pool off."""

    def __init__(self, size: int) -> None:
        if size != 0:
            positive_int("pool size", size)
        self.size = size
        self._images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` fakes -> ``(B, C, H, W)`` to train the discriminator on (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        out: list[torch.Tensor] = []
        for image in images:
            if len(self._images) < self.size:
                self._images.append(image.clone())
                out.append(image)
            elif float(torch.rand(())) > 0.5:
                index = int(torch.randint(0, self.size, ()))
                out.append(self._images[index].clone())
                self._images[index] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state(self) -> torch.Tensor:
        """The stored images as one ``(n, C, H, W)`` CPU tensor (``n`` may be 0: ``(0,)``)."""
        if not self._images:
            return torch.zeros(0)
        return torch.stack(self._images).detach().to("cpu").contiguous()

    def load_state(self, state: torch.Tensor, device: torch.device) -> None:
        """Restore what :meth:`state` returned."""
        if state.numel() == 0:
            self._images = []
            return
        if state.shape[0] > self.size:
            raise ValueError(f"the saved pool holds {state.shape[0]} images, more than {self.size}")
        self._images = [image.to(device) for image in state]
