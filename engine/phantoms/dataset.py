"""Write a phantom data set in the folder layout training reads (see docs/phantoms.md).

::

    DIR/healthy/<id>.png|dcm          16-bit PNG (0..65535) or DICOM (12 bits stored)
    DIR/pneumoconiosis/<id>.png|dcm
    DIR/masks/<id>_lung.png           union lung mask, 8-bit 0/255
    DIR/masks/<id>_left.png           patient's left lung (image right), 0/255
    DIR/masks/<id>_right.png          patient's right lung (image left), 0/255
    DIR/masks/<id>_devices.png        foreign objects (pacemaker, wires, ECG leads), 0/255
    DIR/masks/<id>_zones.png          ZONE_SCALE * zone: 0 outside, 60/120/180 upper/middle/lower
    DIR/lesions/<id>.tiff             float32 lesion map (Pillow mode "F"; zeros when healthy)
    DIR/manifest.csv                  one row per image file
    DIR/manifest.json                 generator version, seed, size, spacing, params per image

Unpaired data sets alternate the labels (even index healthy, odd diseased), each id one image.
Paired data sets write every id to both class folders, sharing the anatomy.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
from PIL import Image

from engine import __version__
from engine.errors import CancelledError, InputError
from engine.phantoms.dicom import write_dicom
from engine.phantoms.generate import generate_phantom
from engine.phantoms.params import (
    GENERATOR_VERSION,
    UPPER_ZONE_PREDOMINANCE,
    DiseaseParams,
    IloType,
    Label,
    LargeOpacity,
    Phantom,
    PhantomParams,
    ZoneWeights,
    default_spacing_mm,
)
from engine.phantoms.population import (
    BREAST_PROBABILITY,
    FOREIGN_OBJECT_PROBABILITY,
    draw_extras,
)
from engine.types import FloatImage

ZONE_SCALE = 60
SUBFOLDERS = ("healthy", "pneumoconiosis", "masks", "lesions")
MANIFESTS = ("manifest.csv", "manifest.json")
CSV_COLUMNS = (
    "id",
    "label",
    "split",
    "file",
    "mask_file",
    "left_mask_file",
    "right_mask_file",
    "devices_mask_file",
    "zones_file",
    "lesion_file",
    "seed",
    "profusion",
    "opacity_type",
    "nodules",
    "haze",
    "large_opacity",
    "n_opacities",
    "foreign_objects",
    "breast_shadows",
    "spacing_mm",
)

Progress = Callable[[int, int], None]


class OutputFormat(StrEnum):
    PNG = "png"
    DICOM = "dicom"


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    """What data set to write. Per image, the disease parameters are drawn from these choices.

    ``profusions``: ILO categories (1-3) drawn uniformly for diseased images.
    ``opacity_types``: ILO size classes drawn uniformly. ``nodules``/``haze``/``large_opacity``:
    the disease parts (see :class:`DiseaseParams`), ``haze`` is the maximum haze (drawn in
    ``[haze / 2, haze]``). ``foreign_object_probability`` / ``breast_probability``: chance that
    an image gets foreign objects / breast shadows. ``test_fraction``: share of ids in the test
    split (chosen by a seeded permutation).
    """

    n: int
    size: int = 512
    seed: int = 0
    profusions: tuple[int, ...] = (1, 2, 3)
    opacity_types: tuple[IloType, ...] = (IloType.P, IloType.Q, IloType.R)
    nodules: bool = True
    haze: float = 0.0
    large_opacity: LargeOpacity = LargeOpacity.NONE
    zone_weights: ZoneWeights = UPPER_ZONE_PREDOMINANCE
    foreign_object_probability: float = FOREIGN_OBJECT_PROBABILITY
    breast_probability: float = BREAST_PROBABILITY
    noise_level: float = 1.0
    paired: bool = False
    test_fraction: float = 0.1
    output_format: OutputFormat = OutputFormat.PNG
    spacing_mm: float | None = field(default=None)

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not self.profusions or any(p not in (1, 2, 3) for p in self.profusions):
            raise ValueError(f"profusions must be ILO categories 1-3, got {self.profusions!r}")
        try:
            object.__setattr__(self, "opacity_types", tuple(IloType(t) for t in self.opacity_types))
        except ValueError:
            raise ValueError(
                f"opacity_types must be p, q or r, got {self.opacity_types!r}"
            ) from None
        if not self.opacity_types:
            raise ValueError("opacity_types must not be empty")
        object.__setattr__(self, "output_format", OutputFormat(self.output_format))
        object.__setattr__(self, "large_opacity", LargeOpacity(self.large_opacity))
        for name in ("foreign_object_probability", "breast_probability", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        # Validates the rest (size, haze, zone weights, noise) once, up front.
        self.disease(
            profusion=self.profusions[0], opacity_type=self.opacity_types[0], haze=self.haze
        )
        PhantomParams(size=self.size, spacing_mm=self.spacing_mm, noise_level=self.noise_level)
        if not (self.nodules or self.haze > 0 or self.large_opacity is not LargeOpacity.NONE):
            raise ValueError("nothing to draw: nodules off, haze 0 and no large opacities")

    def disease(self, profusion: int, opacity_type: IloType, haze: float) -> DiseaseParams:
        return DiseaseParams(
            profusion=profusion,
            opacity_type=opacity_type,
            nodules=self.nodules,
            zone_weights=self.zone_weights,
            haze=haze,
            large_opacity=self.large_opacity,
        )


def image_params(config: DatasetConfig, index: int) -> PhantomParams:
    """The phantom parameters of image ``index`` (deterministic for the config's seed).

    In an unpaired set the disease is set only for diseased ids (odd index); in a paired set
    every id carries the disease (its ``healthy_image`` is the healthy partner).
    """
    rng = np.random.default_rng([config.seed, index])
    seed = int(rng.integers(0, 2**31 - 1))
    profusion = config.profusions[int(rng.integers(len(config.profusions)))]
    opacity_type = config.opacity_types[int(rng.integers(len(config.opacity_types)))]
    haze = config.haze * rng.uniform(0.5, 1.0)
    extras = draw_extras(rng, config.foreign_object_probability, config.breast_probability)
    diseased = config.paired or index % 2 == 1
    disease = config.disease(profusion, opacity_type, haze) if diseased else DiseaseParams()
    return PhantomParams(
        seed=seed,
        size=config.size,
        spacing_mm=config.spacing_mm,
        disease=disease,
        foreign_objects=extras.foreign_objects,
        breast_shadows=extras.breast_shadows,
        noise_level=config.noise_level,
    )


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output path exists and is not a folder: {out_dir}")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise InputError(f"output folder is not empty (use --overwrite): {out_dir}")
        for name in SUBFOLDERS:  # only what a previous run wrote; nothing else is touched
            if (out_dir / name).is_dir():
                shutil.rmtree(out_dir / name)
        for name in MANIFESTS:
            (out_dir / name).unlink(missing_ok=True)
    for name in SUBFOLDERS:
        (out_dir / name).mkdir(parents=True, exist_ok=True)


def _save_mask(path: Path, mask: np.ndarray) -> None:
    Image.fromarray(mask.astype(np.uint8)).save(path)


def _save_image(
    path: Path, image: FloatImage, config: DatasetConfig, index: int, phantom: Phantom
) -> None:
    if config.output_format is OutputFormat.DICOM:
        sex = "F" if phantom.params.breast_shadows else "M"
        write_dicom(
            path, image, index=index, seed=config.seed, spacing_mm=phantom.spacing_mm, sex=sex
        )
    else:
        stored = np.rint(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)
        Image.fromarray(stored).save(path)


def _test_ids(config: DatasetConfig) -> set[int]:
    count = round(config.n * config.test_fraction)
    order = np.random.default_rng([config.seed, 0x5E1]).permutation(config.n)
    return {int(i) for i in order[:count]}


def write_dataset(
    out_dir: Path,
    config: DatasetConfig,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Generate ``config.n`` phantoms (ids) into ``out_dir``; returns the CSV manifest path.

    Raises :class:`InputError` for an unusable output folder and :class:`CancelledError` when
    ``cancel`` is set (files written so far stay).
    """
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    extension = "dcm" if config.output_format is OutputFormat.DICOM else "png"
    test_ids = _test_ids(config)
    rows: list[dict[str, object]] = []
    images: list[dict[str, object]] = []
    for index in range(config.n):
        if cancel is not None and cancel.is_set():
            raise CancelledError("phantom generation cancelled")
        params = image_params(config, index)
        phantom = generate_phantom(params)
        ident = f"phantom_{index:05d}"
        masks = {
            "mask_file": (f"masks/{ident}_lung.png", phantom.lungs),
            "left_mask_file": (f"masks/{ident}_left.png", phantom.lung_left),
            "right_mask_file": (f"masks/{ident}_right.png", phantom.lung_right),
            "devices_mask_file": (f"masks/{ident}_devices.png", phantom.foreign_mask),
        }
        for relative, mask in masks.values():
            _save_mask(out_dir / relative, mask.astype(np.uint8) * 255)
        zones_file = f"masks/{ident}_zones.png"
        _save_mask(out_dir / zones_file, phantom.zones * ZONE_SCALE)
        lesion_file = f"lesions/{ident}.tiff"
        Image.fromarray(np.ascontiguousarray(phantom.lesion_map, dtype=np.float32)).save(
            out_dir / lesion_file
        )
        outputs: list[tuple[Label, FloatImage]] = [(phantom.label, phantom.image)]
        if config.paired:
            outputs = [(Label.HEALTHY, phantom.healthy_image), (phantom.label, phantom.image)]
        split = "test" if index in test_ids else "train"
        files: dict[str, str] = {}
        for label, image in outputs:
            relative = f"{label.value}/{ident}.{extension}"
            _save_image(out_dir / relative, image, config, index, phantom)
            files[label.value] = relative
            disease = phantom.params.disease if label is Label.PNEUMOCONIOSIS else DiseaseParams()
            rows.append(
                {
                    "id": ident,
                    "label": label.value,
                    "split": split,
                    "file": relative,
                    **{key: value[0] for key, value in masks.items()},
                    "zones_file": zones_file,
                    "lesion_file": lesion_file,
                    "seed": params.seed,
                    "profusion": disease.profusion if disease.nodules else 0,
                    "opacity_type": disease.opacity_type.value if disease.is_diseased else "",
                    "nodules": int(disease.nodules and disease.profusion > 0),
                    "haze": round(disease.haze, 6),
                    "large_opacity": disease.large_opacity.value,
                    "n_opacities": phantom.opacities.shape[0] if disease.is_diseased else 0,
                    "foreign_objects": ";".join(sorted(o.value for o in params.foreign_objects)),
                    "breast_shadows": int(params.breast_shadows),
                    "spacing_mm": round(phantom.spacing_mm, 6),
                }
            )
        images.append(
            {
                "id": ident,
                "split": split,
                "files": files,
                "masks": {key: value[0] for key, value in masks.items()},
                "zones_file": zones_file,
                "lesion_file": lesion_file,
                "n_opacities": int(phantom.opacities.shape[0]),
                "params": params.as_dict(),
            }
        )
        if progress is not None:
            progress(index + 1, config.n)
    csv_path = out_dir / "manifest.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    manifest = {
        "generator": "cxr-explain phantoms",
        "generator_version": GENERATOR_VERSION,
        "engine_version": __version__,
        "seed": config.seed,
        "n": config.n,
        "size": config.size,
        "spacing_mm": config.spacing_mm or default_spacing_mm(config.size),
        "paired": config.paired,
        "format": config.output_format.value,
        "test_fraction": config.test_fraction,
        "config": {
            "profusions": list(config.profusions),
            "opacity_types": [t.value for t in config.opacity_types],
            "nodules": config.nodules,
            "haze": config.haze,
            "large_opacity": config.large_opacity.value,
            "zone_weights": [list(row) for row in config.zone_weights],
            "foreign_object_probability": config.foreign_object_probability,
            "breast_probability": config.breast_probability,
            "noise_level": config.noise_level,
        },
        "encoding": {
            "images": "16-bit PNG 0..65535 or DICOM MONOCHROME2 12 bits stored; 1 = brightest",
            "masks": "8-bit PNG, 0 outside, 255 inside; left/right are the patient's sides",
            "zones": f"8-bit PNG, {ZONE_SCALE} x zone: 0 outside, 1 upper, 2 middle, 3 lower",
            "lesions": "float32 TIFF, intensity the disease added (diseased - healthy)",
        },
        "images": images,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
    return csv_path
