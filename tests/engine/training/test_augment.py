"""The classifiers' input variations, and the label-free line patterns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.errors import InputError
from engine.inference.model_input import BACKGROUND
from engine.training.augment import InputAugmentation, line_pattern
from engine.training.classifier import ClassifierConfig

SIZE = 48


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    whole = torch.rand(6, 1, SIZE, SIZE, generator=generator) * 1.6 - 0.8
    share = torch.zeros(6, 1, SIZE, SIZE)
    share[..., 8:40, 6:42] = 1.0
    return whole, share


def test_off_cuts_the_lung_field_and_changes_nothing_else() -> None:
    whole, share = _batch()
    out = InputAugmentation.off().apply(whole, share)
    lungs = share >= 0.5
    assert torch.allclose(out[lungs], whole[lungs], atol=1e-6)
    assert torch.all(out[~lungs] == BACKGROUND)


def test_line_pattern_is_row_constant_bounded_and_of_both_signs() -> None:
    generator = torch.Generator().manual_seed(3)
    pattern = line_pattern(64, SIZE, 0.04, generator)
    assert pattern.shape == (64, 1, SIZE, 1)
    assert pattern.abs().max() <= 2 * 0.04 + 1e-6  # stripes and lines, each up to the amplitude
    assert pattern.abs().max() > 0.02
    assert (pattern > 0.01).any()
    assert (pattern < -0.01).any()
    # confined to a band: some patterns leave the top or bottom rows alone
    quiet_ends = (pattern[:, 0, 0, 0] == 0) | (pattern[:, 0, -1, 0] == 0)
    assert quiet_ends.any()


def test_stripes_add_a_row_pattern_to_the_chosen_images_only() -> None:
    whole, share = _batch()
    lungs = share >= 0.5
    plain = InputAugmentation.off().apply(whole, share)
    striped = InputAugmentation.off().with_stripes(1.0).apply(whole, share)
    change = (striped - plain) * lungs
    assert change.abs().max() > 0.01
    # Constant along each row of the lung field (up to the clamp at the ends of the range).
    inner = change[..., 8:40, 6:42]
    interior = (whole[..., 8:40, 6:42].abs() < 0.75).all(dim=-1, keepdim=True)
    spread = (inner.amax(dim=-1, keepdim=True) - inner.amin(dim=-1, keepdim=True))[interior]
    assert spread.max() < 1e-5
    assert torch.equal(InputAugmentation.off().with_stripes(0.0).apply(whole, share), plain)


def test_stripes_leave_the_other_variations_unchanged_when_off() -> None:
    whole, share = _batch(1)
    first = InputAugmentation().apply(whole, share, torch.Generator().manual_seed(5))
    again = (
        InputAugmentation().with_stripes(0.0).apply(whole, share, torch.Generator().manual_seed(5))
    )
    assert torch.equal(first, again)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"augment_stripes": 0.5}, "--augment-stripes needs --augment-input"),
        ({"augment_stripes": 1.5, "augment_input": True}, "--augment-stripes must be a share"),
    ],
)
def test_bad_stripe_options_are_refused(
    tmp_path: Path, options: dict[str, object], words: str
) -> None:
    with pytest.raises(InputError, match=words):
        ClassifierConfig(data=tmp_path, out=tmp_path / "run", **options)  # type: ignore[arg-type]


def test_the_recorded_command_carries_the_stripes(tmp_path: Path) -> None:
    config = ClassifierConfig(
        data=tmp_path, out=tmp_path / "run", augment_input=True, augment_stripes=0.3
    )
    assert "--augment-stripes 0.3" in config.command_line()
