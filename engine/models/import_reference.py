"""One-off import of generator weights from the reference PyTorch CycleGAN into a model bundle.

The reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) saves ``latest_net_G_A.pth``:
the ``state_dict`` of its ``ResnetGenerator``, a flat ``nn.Sequential`` called ``model``::

    0 ReflectionPad2d(3)   1 Conv2d(in, ngf, 7)          2 norm   3 ReLU
    4 Conv2d(ngf, 2ngf, 3, s2, p1)   5 norm   6 ReLU
    7 Conv2d(2ngf, 4ngf, 3, s2, p1)  8 norm   9 ReLU
    10 .. 10+n-1  ResnetBlock(4ngf), conv_block: 0 pad 1 conv 2 norm 3 ReLU 4 pad 5 conv 6 norm
                  (with --use_dropout a Dropout(0.5) sits at 4 and pad/conv/norm move to 5/6/7)
    10+n ConvTranspose2d(4ngf, 2ngf, 3, s2, p1, op1)  11+n norm  12+n ReLU
    13+n ConvTranspose2d(2ngf, ngf, ...)               14+n norm  15+n ReLU
    16+n ReflectionPad2d(3)   17+n Conv2d(ngf, out, 7)   18+n Tanh

With ``--norm instance`` (the CycleGAN default) the norms are ``InstanceNorm2d(affine=False)``,
which have no tensors, and every convolution has a bias. Our :class:`CycleGANGenerator` with
``attention=False`` has the same layers under other names; this module maps every tensor by an
explicit table and refuses anything it cannot map.

This is the only place in the code base that calls ``torch.load``, always with
``weights_only=True`` (PyTorch's restricted unpickler that only rebuilds tensors and plain
containers). It is a conversion tool, not part of the application's loading path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelError
from engine.models.bundle import BundleConfig, save_bundle
from engine.networks import Architecture, CycleGANGenerator

_BLOCK_KEY = re.compile(r"model\.(\d+)\.conv_block\.(\d+)\.")
_NORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def reference_key_map(
    n_blocks: int, *, use_dropout: bool = False, norm_affine: bool = False
) -> dict[str, str]:
    """Reference ``ResnetGenerator`` state-dict key -> our ``CycleGANGenerator`` key.

    Covers conv weights and biases, and the norm weights and biases when ``norm_affine``.
    """
    layers: dict[str, str] = {}  # reference module prefix -> ours
    convs = {1: 1, 4: 4, 7: 7}
    norms = {2: 2, 5: 5, 8: 8}
    for ref, ours in convs.items():
        layers[f"model.{ref}"] = f"encoder.{ours}"
    block_convs = {6: 5} if use_dropout else {5: 5}
    block_norms = {2: 2, 7: 6} if use_dropout else {2: 2, 6: 6}
    for block in range(n_blocks):
        for ref_index, our_index in {1: 1, **block_convs}.items():
            layers[f"model.{10 + block}.conv_block.{ref_index}"] = (
                f"residual_blocks.{block}.conv_block.{our_index}"
            )
    first_up = 10 + n_blocks
    for offset in (0, 3, 7):  # decoder: transposed conv, transposed conv, last conv
        layers[f"model.{first_up + offset}"] = f"decoder.{offset}"
    if norm_affine:
        for ref, ours in norms.items():
            layers[f"model.{ref}"] = f"encoder.{ours}"
        for block in range(n_blocks):
            for ref_index, our_index in block_norms.items():
                layers[f"model.{10 + block}.conv_block.{ref_index}"] = (
                    f"residual_blocks.{block}.conv_block.{our_index}"
                )
        for offset in (1, 4):
            layers[f"model.{first_up + offset}"] = f"decoder.{offset}"
    return {
        f"{ref}.{param}": f"{ours}.{param}"
        for ref, ours in layers.items()
        for param in ("weight", "bias")
    }


def _describe(
    state: Mapping[str, torch.Tensor],
) -> tuple[int, int, int, int, bool, bool]:
    """Infer (in, out, ngf, n_blocks, use_dropout, norm_affine) from a reference state dict."""
    try:
        first = state["model.1.weight"]
    except KeyError:
        raise ModelError(
            "not a reference ResnetGenerator state dict (no model.1.weight); only "
            "resnet_9blocks/resnet_6blocks generators can be imported"
        ) from None
    ngf, in_channels = int(first.shape[0]), int(first.shape[1])
    blocks = {int(m.group(1)) for key in state if (m := _BLOCK_KEY.match(key))}
    n_blocks = len(blocks)
    if blocks != set(range(10, 10 + n_blocks)):
        raise ModelError("reference generator residual blocks are not numbered model.10 onwards")
    if "model.1.bias" not in state:  # use_bias is False only with BatchNorm
        raise ModelError(
            "the reference generator uses BatchNorm (--norm batch); only InstanceNorm "
            "generators (the CycleGAN default) can be imported"
        )
    use_dropout = any(key.endswith("conv_block.6.weight") and state[key].ndim == 4 for key in state)
    norm_affine = "model.2.weight" in state
    last = state.get(f"model.{17 + n_blocks}.weight")
    if last is None:
        raise ModelError(f"reference generator lacks its output conv model.{17 + n_blocks}")
    return in_channels, int(last.shape[0]), ngf, n_blocks, use_dropout, norm_affine


def map_reference_state(
    state: Mapping[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Map a reference ``ResnetGenerator`` state dict onto ours.

    Returns ``(our_state_dict, architecture_kwargs)``. Raises ``ModelError`` when a tensor has no
    counterpart (nothing is silently dropped except InstanceNorm running-stat buffers, which old
    reference versions stored although they are unused).
    """
    state = {key.removeprefix("module."): value for key, value in state.items()}
    in_channels, out_channels, ngf, n_blocks, use_dropout, norm_affine = _describe(state)
    key_map = reference_key_map(n_blocks, use_dropout=use_dropout, norm_affine=norm_affine)
    mapped: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    for key, tensor in state.items():
        if key.endswith(_NORM_BUFFERS) and key not in key_map:
            continue
        target = key_map.get(key)
        if target is None:
            unmapped.append(key)
        else:
            mapped[target] = tensor
    if unmapped:
        raise ModelError(
            f"{len(unmapped)} reference tensor(s) have no counterpart: {', '.join(unmapped[:3])}"
        )
    kwargs = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "base_width": ngf,
        "n_residual_blocks": n_blocks,
        "attention": False,
        "norm_affine": norm_affine,
    }
    return mapped, kwargs


def import_reference_cyclegan_generator(
    pth_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    model_id: str,
    *,
    input_size: tuple[int, int] = (256, 256),
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Convert a reference CycleGAN ``latest_net_G_*.pth`` into the bundle ``out_dir/model_id``.

    The file is read with ``torch.load(..., weights_only=True)``; every tensor is mapped onto a
    :class:`CycleGANGenerator` built with ``attention=False`` and matching channels, loaded with
    ``strict=True`` and saved with :func:`engine.models.save_bundle`. Returns the bundle folder.
    """
    path = Path(pth_path)
    if not path.is_file():
        raise ModelError(f"reference checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # the restricted unpickler raises several types
        one_line = " ".join(str(error).split())[:200]
        raise ModelError(
            f"cannot read {path.name} as a weights-only state dict: {one_line}"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ModelError(f"{path.name} does not hold a state dict of tensors")
    mapped, kwargs = map_reference_state(state)
    generator = CycleGANGenerator(**kwargs)
    try:
        generator.load_state_dict(mapped, strict=True)
    except RuntimeError as error:
        one_line = " ".join(str(error).split())[:300]
        raise ModelError(f"{path.name} does not fit the generator: {one_line}") from None
    config = BundleConfig(
        model_id=model_id,
        architecture=Architecture.GENERATOR,
        architecture_kwargs=kwargs,
        input_size=input_size,
        normalisation={"input_range": [-1, 1], "from": "display [0,1]"},
        value_ranges={"input": [-1, 1], "output": [-1, 1]},
        training={
            "imported_from": path.name,
            "source": "pytorch-CycleGAN-and-pix2pix",
            **(training or {}),
        },
    )
    return save_bundle(generator, out_dir, config)
