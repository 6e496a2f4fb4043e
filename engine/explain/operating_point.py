"""The classifiers' operating point: where P = 0.5 falls, chosen on held-out healthy images.

A classifier trained with balanced classes puts logit 0 wherever its loss left it, not at a
useful operating point. The shipped one calls healthy phantoms healthy with logits of -11 to -2
and the mildest findings (ILO profusion 1) -7 to -1: at logit 0 it misses most of them while no
healthy image comes near (issue 18). This module moves the decision to a stated specificity, the
Neyman-Pearson way: the offset is a tolerance bound (at least ``specificity`` below it, with 95 %
confidence; :func:`choose_offset`) on the raw logits of ``n`` healthy
phantoms that no model saw (anatomy seeds from :data:`FIRST_SEED`), written as files at the
sizes and formats users have and read back with ``load_radiograph``, lungs from the segmenter:
the same path as ``explain``. Diseased images play no part in the choice, so it cannot be tuned
to the findings it is later scored on.

The offset is stored in each classifier bundle's ``config.json`` (architecture argument
``decision_offset``, and ``training.operating_point``: how it was chosen); the weights do not
change. Every probability the product shows is then ``sigmoid(logit - offset)``.

What it cannot show: the specificity holds for images like the calibration set (synthetic
phantoms); on another population the share of healthy images above the threshold is whatever it
is there, and the out-of-distribution flag is the guard for that.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.atomic import write_text_atomically
from engine.errors import CancelledError, InputError
from engine.explain.validate import FileFormat, write_phantom_file
from engine.inference.model_input import model_intensity
from engine.inference.run import batch_tensor, field_inputs, segment_lungs_checked
from engine.io import load_radiograph
from engine.models import LoadedModel, load_bundle
from engine.networks import Architecture
from engine.phantoms import DiseaseParams, generate_pair
from engine.phantoms.population import (
    BREAST_PROBABILITY,
    FOREIGN_OBJECT_PROBABILITY,
    extras_for_seed,
)

#: Anatomy seeds of the calibration images: clear of training (0-999), validation (1000 on, a
#: few hundred), the CI guard (7000-7199) and anything else the repository draws.
FIRST_SEED = 30_000
CONFIG_FILE = "config.json"
MODEL_CARD_FILE = "README.md"
_CARD_HEADING = "## Operating point"
OFFSET_KWARG = "decision_offset"


@dataclass(frozen=True, slots=True)
class CalibrationConfig:
    """``n`` healthy phantoms, image ``i`` at ``sizes[i % len]`` px as ``formats[i % len]``;
    breast shadows and foreign objects (ECG leads, wires, a pacemaker) as often as in the sets
    ``cxr-explain phantoms`` writes by default: the population users meet, which the training
    set (plain anatomies) does not cover and whose healthy images score higher."""

    # 300: the first 120 of these images put the 95 % quantile 0.45 logit below what all 300 do;
    # fewer images also push the tolerance bound toward the largest logit.
    n: int = 300
    specificity: float = 0.95
    confidence: float = 0.95
    sizes: tuple[int, ...] = (256, 512, 1024)
    formats: tuple[FileFormat, ...] = (FileFormat.PNG, FileFormat.DICOM)
    first_seed: int = FIRST_SEED
    breast_probability: float = BREAST_PROBABILITY
    foreign_object_probability: float = FOREIGN_OBJECT_PROBABILITY

    def __post_init__(self) -> None:
        if self.n < 20:
            raise InputError(f"--n must be at least 20 healthy images, got {self.n}")
        if not 0.5 <= self.specificity < 1.0:
            raise InputError(f"--specificity must be in [0.5, 1), got {self.specificity}")
        if not 0.5 <= self.confidence < 1.0:
            raise InputError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if not self.sizes or min(self.sizes) < 32:
            raise InputError(f"sizes must be at least 32 px, got {self.sizes}")


def raw_logits(
    classifiers: Sequence[LoadedModel],
    segmenter: LoadedModel,
    config: CalibrationConfig,
    *,
    indices: range | None = None,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``(len(classifiers), len(indices))`` raw logits of the calibration images ``indices``
    (default: all ``config.n``): before any decision offset a bundle already has (so calibrating
    again measures the same numbers). Image ``i`` is the same whichever span it is asked in."""
    span = range(config.n) if indices is None else indices
    rows: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="cxr-calibrate-") as scratch:
        for done, index in enumerate(span, start=1):
            if cancel is not None and cancel.is_set():
                raise CancelledError("calibration cancelled")
            seed = config.first_seed + index
            size = config.sizes[index % len(config.sizes)]
            kind = config.formats[index % len(config.formats)]
            options = population_options(config, seed)
            phantom = generate_pair(seed, DiseaseParams(), size=size, **options)
            path = write_phantom_file(
                Path(scratch) / f"healthy_{index:04d}",
                np.asarray(phantom.healthy_image),
                kind,
                index=index,
                seed=seed,
                spacing_mm=phantom.spacing_mm,
            )
            intensity = model_intensity(load_radiograph(path))
            right, left, _ = segment_lungs_checked(segmenter, intensity)
            rows.append([_raw_logit(model, intensity, right | left) for model in classifiers])
            if progress is not None:
                progress(done, len(span))
    return np.asarray(rows, dtype=np.float64).reshape(len(span), len(classifiers)).T


def _load_judges(
    models_dir: Path, bundle_names: Sequence[str]
) -> tuple[LoadedModel, list[LoadedModel]]:
    segmenter = load_bundle(models_dir / "segmenter", Architecture.UNET, "cpu")
    classifiers = [
        load_bundle(models_dir / name, Architecture.CLASSIFIER, "cpu") for name in bundle_names
    ]
    return segmenter, classifiers


def _span_logits(
    models_dir: Path, bundle_names: tuple[str, ...], config: CalibrationConfig, span: range
) -> np.ndarray:
    """One worker process's share: its own models, one thread (a process per core)."""
    torch.set_num_threads(1)
    segmenter, classifiers = _load_judges(models_dir, bundle_names)
    return raw_logits(classifiers, segmenter, config, indices=span)


def bundle_logits(
    models_dir: Path,
    bundle_names: Sequence[str],
    config: CalibrationConfig,
    *,
    workers: int = 1,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """:func:`raw_logits` of the bundles ``bundle_names`` of ``models_dir`` (with its segmenter),
    in ``workers`` processes when more than one: the same numbers (up to the rounding of another
    thread count), in image order."""
    if workers <= 1:
        segmenter, classifiers = _load_judges(models_dir, bundle_names)
        return raw_logits(classifiers, segmenter, config, cancel=cancel, progress=progress)
    step = max(1, -(-config.n // (4 * workers)))  # a few spans per worker even out their times
    spans = [range(start, min(start + step, config.n)) for start in range(0, config.n, step)]
    names = tuple(bundle_names)
    # Spawned, not forked: the parent may hold torch threads, which a fork copies in a bad state.
    context = multiprocessing.get_context("spawn")
    parts: dict[int, np.ndarray] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending = {
            pool.submit(_span_logits, models_dir, names, config, span): span.start for span in spans
        }
        try:
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                if cancel is not None and cancel.is_set():
                    raise CancelledError("calibration cancelled")
                for future in done:
                    parts[pending.pop(future)] = future.result()
                if done and progress is not None:
                    progress(sum(part.shape[1] for part in parts.values()), config.n)
        except BaseException:
            # A failed span or a cancel ends the run now, not after every other span is drawn.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return np.concatenate([parts[start] for start in sorted(parts)], axis=1)


def population_options(config: CalibrationConfig, seed: int) -> dict[str, Any]:
    """Breast shadows and foreign objects of one calibration image (drawn from its seed)."""
    return extras_for_seed(
        seed, config.foreign_object_probability, config.breast_probability
    ).as_options()


@torch.no_grad()
def _raw_logit(model: LoadedModel, intensity: np.ndarray, lung: np.ndarray) -> float:
    """The classifier's logit before its decision offset (a ClassifierNet's own layers)."""
    (prepared,) = field_inputs(model, [intensity], lung)
    network: Any = model.module
    _, features = network.forward_features(batch_tensor([prepared.field], model))
    return float(network.logit(features).squeeze(1)[0])


def choose_offset(
    healthy_logits: np.ndarray, specificity: float, confidence: float = 0.95
) -> float:
    """The raw logit below which at least ``specificity`` of healthy images fall, with
    ``confidence``: the smallest order statistic ``x_(k)`` of the ``n`` calibration logits with
    ``P(Binomial(n, specificity) >= k) <= 1 - confidence`` (a one-sided tolerance bound).

    The plain ``specificity`` quantile is a coin flip around the target: at the 0.95 quantile of
    300 images the shipped classifier kept 0.925 of the validation set's healthy images and 5 of 8
    of one ``cxr-explain phantoms`` set. When even the largest logit cannot give the confidence,
    the largest logit is the offset (the record states the confidence reached)."""
    ordered = np.sort(np.asarray(healthy_logits, dtype=np.float64))
    return float(ordered[_order_index(ordered.size, specificity, confidence)])


def _order_index(n: int, specificity: float, confidence: float) -> int:
    """0-based index of the order statistic :func:`choose_offset` takes: the ``confidence``
    quantile of Binomial(n, specificity), capped at the largest logit."""
    from scipy.stats import binom

    return min(int(binom.ppf(confidence, n, specificity)), n - 1)


def reached_confidence(n: int, specificity: float, index: int) -> float:
    """How sure the order statistic at ``index`` (0-based) keeps ``specificity`` of healthy
    images below it."""
    from scipy.stats import binom

    return float(1.0 - binom.sf(index, n, specificity))


def calibrate_bundles(
    models_dir: Path,
    bundle_names: Sequence[str],
    config: CalibrationConfig,
    *,
    workers: int = 1,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Choose and store the operating point of each classifier bundle in ``models_dir``;
    returns each bundle's ``operating_point`` record. ``workers``: processes that render and
    read the calibration images (the offsets do not depend on it)."""
    logits = bundle_logits(
        models_dir, bundle_names, config, workers=workers, cancel=cancel, progress=progress
    )
    records = {}
    for name, row in zip(bundle_names, logits, strict=True):
        offset = choose_offset(row, config.specificity, config.confidence)
        index = _order_index(row.size, config.specificity, config.confidence)
        record = {
            "decision_offset": offset,
            "target_specificity": config.specificity,
            "confidence": reached_confidence(row.size, config.specificity, index),
            "specificity_on_calibration_images": float(np.mean(row < offset)),
            "healthy_images": int(row.size),
            "anatomy_seeds": [config.first_seed, config.first_seed + config.n - 1],
            "sizes": list(config.sizes),
            "formats": [f.value for f in config.formats],
            "breast_probability": config.breast_probability,
            "foreign_object_probability": config.foreign_object_probability,
            "raw_logit_percentiles": {
                str(q): float(np.percentile(row, q)) for q in (5, 50, 95, 99)
            },
            "method": "engine.explain.operating_point: a one-sided tolerance bound (order "
            "statistic) on the raw logits of held-out healthy phantoms, through files and the "
            "segmenter's lungs",
        }
        _store(models_dir / name, record)
        records[name] = record
    return records


def _store(bundle: Path, record: dict[str, Any]) -> None:
    path = bundle / CONFIG_FILE
    config = json.loads(path.read_text(encoding="utf-8"))
    config["architecture_kwargs"][OFFSET_KWARG] = record["decision_offset"]
    config.setdefault("training", {})["operating_point"] = record
    write_text_atomically(path, json.dumps(config, indent=2) + "\n")
    card = bundle / MODEL_CARD_FILE
    if card.is_file():
        text = card.read_text(encoding="utf-8").split(f"\n{_CARD_HEADING}\n")[0].rstrip("\n")
        write_text_atomically(card, text + "\n\n" + _card_section(record))


def _card_section(record: dict[str, Any]) -> str:
    """The model card's account of the operating point (replaced on every calibration)."""
    percentiles = record["raw_logit_percentiles"]
    return (
        f"{_CARD_HEADING}\n\n"
        f"- P = 0.5 at raw logit {record['decision_offset']:.4f}: at least "
        f"{record['target_specificity']:g} of healthy images below it with confidence "
        f"{record['confidence']:.3f} (one-sided tolerance bound on the raw logits of "
        f"{record['healthy_images']} held-out healthy phantoms; anatomy seeds "
        f"{record['anatomy_seeds'][0]}-{record['anatomy_seeds'][1]}; "
        f"{', '.join(str(s) for s in record['sizes'])} px; "
        f"{' / '.join(record['formats'])} files; breast shadows "
        f"{record['breast_probability']:g}, devices {record['foreign_object_probability']:g}), "
        "through `load_radiograph` and the segmenter's lungs (`cxr-explain calibrate`)\n"
        f"- raw logit percentiles of those images: 5 %: {percentiles['5']:.2f}, 50 %: "
        f"{percentiles['50']:.2f}, 95 %: {percentiles['95']:.2f}, 99 %: {percentiles['99']:.2f}\n"
        "- every probability the product shows is sigmoid(raw logit - offset); the weights are "
        "unchanged\n"
    )
