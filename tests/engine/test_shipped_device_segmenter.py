"""CI guard of the shipped device segmenter and the keep mask it makes (issue 19).

Anatomies with devices (pacemaker, wires, ECG leads) and findings of the training recipe are
written as PNG and DICOM files of two sizes from held-out seeds, read back and explained with the
shipped models, as the viewer does. Three numbers must not regress: the share of device pixels in
the lungs that the keep mask covers, the share of lesion pixels it covers (a keep mask that hides
disease would be worse than a changed pacemaker) and the to-healthy change on device pixels per
change on the other lung pixels (the issue's target: at most 0.2). The floors sit below what the
shipped models reach (docs/validation/generators.md), and far from what no keep mask gives
(coverage 0, ratio 1.67).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.explain.scoring import device_change_ratio
from engine.explain.validate import FileFormat, write_phantom_file
from engine.phantoms import DEFAULT_RECIPE, generate_pair
from engine.phantoms.population import extras_for_seed

ANATOMIES = 8
FIRST_SEED = 7100
SIZES = (256, 512)
#: The shipped device segmenter on these 8 anatomies (2026-12-06): the keep mask covers 0.969 of
#: the device pixels in the lungs and 0.044 of the lesion pixels; the device/lung change ratio is
#: 0.156 (1.665 without a keep mask; 0.240 with the devices found but not grown, 0.113 grown by
#: 3); 0.116 with the generators of the 512 px classifier (2026-12-07). Limits: coverage and
#: lesion share with a margin; the ratio at the issue's target, 0.2, which a keep mask without
#: its growth misses.
COVERAGE_FLOOR = 0.85
LESION_CEILING = 0.07
RATIO_CEILING = 0.2


@pytest.fixture(scope="module")
def explained(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    models = api.load_model_set(api.default_models_dir())
    assert models.devices is not None, "the shipped models have no device segmenter"
    folder = tmp_path_factory.mktemp("devices")
    rng = np.random.default_rng(FIRST_SEED)
    rows = []
    for index in range(ANATOMIES):
        seed = FIRST_SEED + index
        phantom = generate_pair(
            seed,
            DEFAULT_RECIPE.draw(rng),
            size=SIZES[index % len(SIZES)],
            **extras_for_seed(seed, foreign_object_probability=1.0).as_options(),
        )
        path = write_phantom_file(
            folder / f"{index:02d}",
            np.asarray(phantom.image),
            (FileFormat.PNG, FileFormat.DICOM)[index % 2],
            index=index,
            seed=FIRST_SEED,
            spacing_mm=phantom.spacing_mm,
        )
        request = api.ExplainRequest(
            direction=api.Direction.TO_HEALTHY, n_frames=2, with_attributions=False
        )
        result = api.explain(api.load_radiograph(Path(path)), models, request, lung_mask=None)
        rows.append({"phantom": phantom, "result": result})
    return rows


def _pooled_share(rows: list[dict], pixels: str) -> float:
    covered = total = 0
    for row in rows:
        phantom, keep = row["phantom"], row["result"].keep
        target = phantom.foreign_mask & phantom.lungs
        if pixels == "lesions":
            target = (phantom.lesion_map > 0.02) & phantom.lungs & ~phantom.foreign_mask
        covered += int((keep & target).sum())
        total += int(target.sum())
    assert total > 0, f"no {pixels} pixels in the lungs"
    return covered / total


def test_the_keep_mask_covers_the_devices(explained: list[dict]) -> None:
    share = _pooled_share(explained, "devices")
    assert share >= COVERAGE_FLOOR, f"keep mask covers {share:.3f} of the device pixels"


def test_the_keep_mask_leaves_the_lesions_editable(explained: list[dict]) -> None:
    share = _pooled_share(explained, "lesions")
    assert share <= LESION_CEILING, f"keep mask covers {share:.3f} of the lesion pixels"


def test_devices_change_far_less_than_the_lungs(explained: list[dict]) -> None:
    ratios = [
        device_change_ratio(
            row["result"].primary.difference, row["phantom"].foreign_mask, row["phantom"].lungs
        )
        for row in explained
    ]
    finite = [r for r in ratios if np.isfinite(r)]
    assert len(finite) >= ANATOMIES // 2, f"only {len(finite)} anatomies with devices in the lungs"
    assert np.mean(finite) <= RATIO_CEILING, f"device/lung change ratio {np.mean(finite):.3f}"


def test_the_figan_slider_of_the_shipped_models_keeps_devices_too() -> None:
    from engine.figan.explore import load_figan_models

    assert load_figan_models(api.default_models_dir()).devices is not None
