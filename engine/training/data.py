"""Training data: scan a class-labelled folder, load, letterbox and cache it in memory.

Folder layout (written by ``cxr-explain phantoms``; also the layout for real data)::

    DIR/healthy/<id>.png|dcm            class 0
    DIR/pneumoconiosis/<id>.png|dcm     class 1
    DIR/masks/<id>_lung.png             optional, 0/255 union lung mask
    DIR/masks/<id>_left.png             optional, the patient's left lung (image right)
    DIR/masks/<id>_right.png            optional, the patient's right lung (image left)
    DIR/masks/<id>_devices.png          optional, foreign objects (the device segmenter's target)
    DIR/manifest.csv                    optional, columns id,label,split,... (split train|test)

Masks are keyed by id, so a paired set (the same id in both class folders: one anatomy, healthy
and diseased) shares its masks. The split is by id: a test anatomy never appears in training.
Without a manifest row, an id goes to the test split when the first 8 bytes of its SHA-256, as
an integer, modulo 100 fall below :data:`HASH_TEST_PERCENT` (deterministic, order-free).

Every image becomes a model input through :mod:`engine.inference.model_input`, the function
inference uses too (model window, letterbox, lung field from the full-resolution mask), so a model
is trained on exactly what it will see. Model units: ``intensity * 2 - 1`` in ``[-1, 1]``; the
*lung-field image* (paper, section 2) sets everything outside the lung field to the background
``-1``. Mask channels for the segmenter follow the U-Net's convention: channel 0
is the lung on the image left (the patient's right, ``<id>_right.png``), channel 1 the lung on
the image right (``<id>_left.png``).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from engine.errors import CancelledError, InputError
from engine.geometry import resize
from engine.inference.model_input import model_input, model_intensity
from engine.io import load_radiograph
from engine.networks import CLASSIFIER_LABELS

log = logging.getLogger(__name__)

#: Class folder names in label-index order (index 1 = the class the classifier's logit favours).
LABELS: tuple[str, ...] = tuple(CLASSIFIER_LABELS)
MASK_FOLDER = "masks"
MANIFEST_FILE = "manifest.csv"
IMAGE_SUFFIXES = frozenset({".png", ".dcm", ".dicom", ".jpg", ".jpeg", ".tif", ".tiff"})
HASH_TEST_PERCENT = 10


class Split(StrEnum):
    TRAIN = "train"
    TEST = "test"


class DeviceMasks(StrEnum):
    """Whether :func:`load_images` loads the foreign-object masks (``masks/<id>_devices.png``)."""

    NONE = "none"
    REQUIRED = "required"  # every sample needs one (the device segmenter's targets)
    WHEN_PRESENT = "when_present"  # loaded when every sample has one (a keep mask), else None


class LungField(StrEnum):
    """What the classifier and the CycleGAN see."""

    MASK = "mask"  # outside the lung mask set to the background (paper)
    NONE = "none"  # the whole letterboxed image


@dataclass(frozen=True, slots=True)
class Sample:
    """One image of the folder. ``label`` indexes :data:`LABELS`; mask paths exist or are None."""

    id: str
    path: Path
    label: int
    split: Split
    lung_mask: Path | None = None
    left_mask: Path | None = None  # the patient's left lung (image right)
    right_mask: Path | None = None  # the patient's right lung (image left)
    devices_mask: Path | None = None  # foreign objects: pacemaker, wires, ECG leads

    @property
    def has_lung_mask(self) -> bool:
        return self.lung_mask is not None or (
            self.left_mask is not None and self.right_mask is not None
        )

    @property
    def has_side_masks(self) -> bool:
        return self.left_mask is not None and self.right_mask is not None


def hash_split(sample_id: str) -> Split:
    """The split of an id without a manifest row: ~:data:`HASH_TEST_PERCENT` % go to test."""
    digest = hashlib.sha256(sample_id.encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return Split.TEST if bucket < HASH_TEST_PERCENT else Split.TRAIN


def _read_manifest(path: Path) -> dict[tuple[str, str | None], Split]:
    """``(id, label or None) -> split`` from ``manifest.csv``; InputError on a malformed file."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fields = set(reader.fieldnames or ())
            if not {"id", "split"} <= fields:
                raise InputError(f"{path.name} must have columns id and split (and label)")
            splits: dict[tuple[str, str | None], Split] = {}
            for line, row in enumerate(reader, start=2):
                try:
                    split = Split((row.get("split") or "").strip().lower())
                except ValueError:
                    raise InputError(
                        f"{path.name} line {line}: split must be train or test, "
                        f"got {row.get('split')!r}"
                    ) from None
                label = (row.get("label") or "").strip() or None
                splits[((row.get("id") or "").strip(), label)] = split
            return splits
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InputError(f"cannot read {path}: {error}") from None


def scan_dataset(directory: str | Path) -> tuple[Sample, ...]:
    """Every image of the folder layout, sorted by (label, id); InputError for an unusable folder.

    Both class folders must exist and hold at least one image.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"data folder {root} does not exist")
    manifest_path = root / MANIFEST_FILE
    manifest = _read_manifest(manifest_path) if manifest_path.is_file() else {}
    masks = root / MASK_FOLDER
    samples: list[Sample] = []
    for label_index, label in enumerate(LABELS):
        folder = root / label
        if not folder.is_dir():
            raise InputError(f"data folder {root.name} has no class folder {label}/")
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise InputError(f"class folder {root.name}/{label}/ holds no PNG or DICOM images")
        for path in files:
            sample_id = path.stem
            split = manifest.get((sample_id, label)) or manifest.get((sample_id, None))
            if split is None:
                split = hash_split(sample_id)

            def existing(suffix: str, sample_id: str = sample_id) -> Path | None:
                candidate = masks / f"{sample_id}_{suffix}.png"
                return candidate if candidate.is_file() else None

            samples.append(
                Sample(
                    id=sample_id,
                    path=path,
                    label=label_index,
                    split=split,
                    lung_mask=existing("lung"),
                    left_mask=existing("left"),
                    right_mask=existing("right"),
                    devices_mask=existing("devices"),
                )
            )
    return tuple(samples)


def of_split(samples: Sequence[Sample], split: Split) -> tuple[Sample, ...]:
    return tuple(s for s in samples if s.split is split)


def split_counts(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """``{split: {label: n}}`` for the provenance record."""
    return {
        split.value: {
            label: sum(1 for s in samples if s.split is split and s.label == index)
            for index, label in enumerate(LABELS)
        }
        for split in Split
    }


@dataclass(frozen=True, slots=True)
class ImageSet:
    """Cached model inputs of some samples (:func:`engine.inference.model_input.model_input`).

    ``images``: ``(N, 1, S, S)`` float32 in ``[-1, 1]`` (the lung-field input when loaded with
    :attr:`LungField.MASK`). ``labels``: ``(N,)`` int64 label indices. ``lungs``: ``(N, 1, S, S)``
    float32 0/1 lung fields or None. ``shares``: ``(N, 1, S, S)`` float32 lung area share of each
    model pixel, or None (augmentation moves the field's border with it). ``sides``:
    ``(N, 2, S, S)`` float32 0/1 (image-left, image-right lung) or None. ``devices``:
    ``(N, 1, S, S)`` float32 0/1 foreign objects (:data:`DEVICE_SHARE`) or None. ``whole``:
    ``(N, 1, S, S)`` the image before the lung field. ``source_shapes``: ``(N, 2)`` int64 height
    and width of each file's pixel grid (a change drawn at the model's size reaches the user's
    image through that grid), or None.
    """

    samples: tuple[Sample, ...]
    images: npt.NDArray[np.float32]
    whole: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    lungs: npt.NDArray[np.float32] | None
    sides: npt.NDArray[np.float32] | None
    shares: npt.NDArray[np.float32] | None = None
    devices: npt.NDArray[np.float32] | None = None
    source_shapes: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, indices: Sequence[int]) -> ImageSet:
        index = np.asarray(indices, dtype=np.int64)
        return ImageSet(
            samples=tuple(self.samples[i] for i in index),
            images=self.images[index],
            whole=self.whole[index],
            labels=self.labels[index],
            lungs=None if self.lungs is None else self.lungs[index],
            sides=None if self.sides is None else self.sides[index],
            shares=None if self.shares is None else self.shares[index],
            devices=None if self.devices is None else self.devices[index],
            source_shapes=None if self.source_shapes is None else self.source_shapes[index],
        )

    def of_label(self, label: int) -> ImageSet:
        return self.subset([i for i, s in enumerate(self.samples) if s.label == label])


#: A model pixel is a device pixel when devices cover this share of it: a lead wire one source
#: pixel wide covers well under half a model pixel once a 1024 px file is letterboxed to 384.
DEVICE_SHARE = 0.25

#: ``(model-intensity image (H, W) in [0, 1]) -> lung mask (H, W) bool`` on the same grid.
MaskPredictor = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.bool_]]


def _read_mask(path: Path, shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read mask {path.name}: {error}") from None
    mask = array > 127
    if mask.shape != shape:
        mask = resize(mask.astype(np.float32), shape, nearest=True) > 0.5
    return mask


def sample_lung_mask(sample: Sample, shape: tuple[int, int]) -> npt.NDArray[np.bool_] | None:
    """The union lung mask of ``sample`` from its mask files, on an image grid of ``shape``."""
    if not sample.has_lung_mask:
        return None
    parts = (sample.lung_mask,) if sample.lung_mask else (sample.left_mask, sample.right_mask)
    mask = np.zeros(shape, dtype=bool)
    for part in parts:
        if part is not None:  # all exist: has_lung_mask
            mask |= _read_mask(part, shape)
    return mask


def load_images(
    samples: Sequence[Sample],
    size: int,
    *,
    lung_field: LungField = LungField.MASK,
    mask_predictor: MaskPredictor | None = None,
    with_sides: bool = False,
    devices: DeviceMasks = DeviceMasks.NONE,
    cancel: Callable[[], bool] | None = None,
) -> ImageSet:
    """Load ``samples`` as model inputs of ``size`` (see :class:`ImageSet`).

    Lung masks come from the folder, or from ``mask_predictor`` when given (a segmenter run on
    the full-resolution image, as inference does). With ``lung_field=MASK`` a missing mask is an
    InputError naming the image; ``with_sides`` needs the left/right masks of every sample
    (segmenter targets); ``devices`` says whether the device masks come along (see
    :class:`DeviceMasks`).
    """
    n = len(samples)
    whole = np.empty((n, 1, size, size), dtype=np.float32)
    images = np.empty((n, 1, size, size), dtype=np.float32)
    lungs = np.zeros((n, 1, size, size), dtype=np.float32)
    shares = np.zeros((n, 1, size, size), dtype=np.float32)
    sides = np.zeros((n, 2, size, size), dtype=np.float32) if with_sides else None
    with_devices = devices is DeviceMasks.REQUIRED or (
        devices is DeviceMasks.WHEN_PRESENT and all(s.devices_mask for s in samples)
    )
    found_devices = np.zeros((n, 1, size, size), dtype=np.float32) if with_devices else None
    source_shapes = np.zeros((n, 2), dtype=np.int64)
    have_lungs = mask_predictor is not None or all(s.has_lung_mask for s in samples)
    if lung_field is LungField.MASK and not have_lungs:
        missing = next(s.id for s in samples if not s.has_lung_mask)
        raise InputError(
            f"image {missing} has no lung mask in {MASK_FOLDER}/ ({missing}_lung.png or "
            "_left/_right.png); give --segmenter BUNDLE_DIR or --lung-field none"
        )
    for index, sample in enumerate(samples):
        if cancel is not None and cancel():
            raise CancelledError("loading the training images was cancelled")
        intensity = model_intensity(load_radiograph(sample.path))
        shape = (int(intensity.shape[0]), int(intensity.shape[1]))
        source_shapes[index] = shape
        if with_sides:
            if not sample.has_side_masks or sides is None:
                raise InputError(
                    f"image {sample.id} has no {MASK_FOLDER}/{sample.id}_left.png and "
                    "_right.png; the segmenter trains on left/right lung masks"
                )
            for channel, path in enumerate((sample.right_mask, sample.left_mask)):
                if path is not None:  # both exist: has_side_masks
                    side = model_input(intensity, _read_mask(path, shape), size)
                    sides[index, channel] = side.lung
        if found_devices is not None:
            if sample.devices_mask is None:
                raise InputError(
                    f"image {sample.id} has no {MASK_FOLDER}/{sample.id}_devices.png; the device "
                    "segmenter trains on foreign-object masks (an empty mask: no devices)"
                )
            found = model_input(intensity, _read_mask(sample.devices_mask, shape), size)
            found_devices[index, 0] = found.lung_share >= DEVICE_SHARE
        mask = None
        if have_lungs:
            mask = (
                mask_predictor(intensity)
                if mask_predictor is not None
                else sample_lung_mask(sample, shape)
            )
        prepared = model_input(intensity, mask, size)
        whole[index, 0] = prepared.whole
        if mask is not None:
            lungs[index, 0] = prepared.lung
            shares[index, 0] = prepared.lung_share
        images[index, 0] = prepared.field if lung_field is LungField.MASK else prepared.whole
    return ImageSet(
        samples=tuple(samples),
        images=images,
        whole=whole,
        labels=np.asarray([s.label for s in samples], dtype=np.int64),
        lungs=lungs if have_lungs else None,
        sides=sides,
        shares=shares if have_lungs else None,
        devices=found_devices,
        source_shapes=source_shapes,
    )


def segmenter_predictor(bundle_dir: str | Path, device: torch.device) -> MaskPredictor:
    """A :data:`MaskPredictor` from a trained segmenter bundle: the union of its lungs, found on
    the full-resolution image exactly as the explanation pipeline finds them."""
    from engine.inference.run import segment_lungs  # lazy: the models' imports cost start-up
    from engine.models import load_bundle
    from engine.networks import Architecture

    loaded = load_bundle(bundle_dir, expected_architecture=Architecture.UNET, device=device)

    def predict(intensity: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
        right, left = segment_lungs(loaded, intensity)
        return right | left

    return predict
