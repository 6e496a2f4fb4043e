"""Scanning the folder layout, splits, lung fields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.training.data import (
    LungField,
    Split,
    hash_split,
    load_images,
    of_split,
    scan_dataset,
    split_counts,
)


def test_scan_reads_labels_masks_and_manifest_split(make_dataset: Callable[..., Path]) -> None:
    root = make_dataset(n_ids=3, test_ids=1)
    samples = scan_dataset(root)
    assert [(s.id, s.label) for s in samples] == [
        ("p000", 0),
        ("p001", 0),
        ("p002", 0),
        ("p000", 1),
        ("p001", 1),
        ("p002", 1),
    ]
    assert {s.id for s in of_split(samples, Split.TEST)} == {"p002"}  # by id: both classes
    assert all(s.has_side_masks and s.lung_mask is not None for s in samples)
    assert split_counts(samples) == {
        "train": {"healthy": 2, "pneumoconiosis": 2},
        "test": {"healthy": 1, "pneumoconiosis": 1},
    }


def test_without_manifest_the_split_is_a_hash_of_the_id(make_dataset: Callable[..., Path]) -> None:
    root = make_dataset(n_ids=3, manifest=False)
    for sample in scan_dataset(root):
        assert sample.split is hash_split(sample.id)
    ids = [f"case{i}" for i in range(2000)]
    share = sum(hash_split(i) is Split.TEST for i in ids) / len(ids)
    assert 0.07 < share < 0.13


def test_lung_field_sets_the_outside_to_background(make_dataset: Callable[..., Path]) -> None:
    samples = scan_dataset(make_dataset(n_ids=2))
    loaded = load_images(samples, 32, lung_field=LungField.MASK, with_sides=True)
    assert loaded.images.shape == (4, 1, 32, 32)
    assert loaded.images.dtype == np.float32
    assert loaded.lungs is not None
    assert loaded.sides is not None
    outside = loaded.lungs < 0.5
    assert np.all(loaded.images[outside] == -1.0)
    inside = ~outside
    np.testing.assert_array_equal(loaded.images[inside], loaded.whole[inside])
    np.testing.assert_array_equal(loaded.sides.max(axis=1, keepdims=True), loaded.lungs)
    whole = load_images(samples, 32, lung_field=LungField.NONE)
    np.testing.assert_array_equal(whole.images, whole.whole)
    assert whole.images.min() >= -1.0
    assert whole.images.max() <= 1.0


def test_missing_masks_name_the_image_and_the_options(make_dataset: Callable[..., Path]) -> None:
    samples = scan_dataset(make_dataset(n_ids=2, masks=False))
    with pytest.raises(InputError, match=r"p000 has no lung mask.*--segmenter.*--lung-field none"):
        load_images(samples, 32, lung_field=LungField.MASK)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda root: root.rename(root.with_name("gone")), "does not exist"),
        (lambda root: [p.unlink() for p in (root / "healthy").iterdir()], "healthy/ holds no"),
        (lambda root: (root / "pneumoconiosis").rename(root / "other"), "no class folder"),
    ],
)
def test_unusable_folders_are_input_errors(
    make_dataset: Callable[..., Path], break_it: Callable[[Path], object], message: str
) -> None:
    root = make_dataset(n_ids=1)
    break_it(root)
    with pytest.raises(InputError, match=message):
        scan_dataset(root)
