"""Low-resolution images: either verdict on them says it is weaker evidence, and why, wherever
it goes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from engine.explain.pipeline import ExplainRequest, explain
from engine.explain.resolution import (
    LOW_RESOLUTION_SHARE,
    LOW_RESOLUTION_SIDE,
    SourceResolution,
)
from engine.explain.warning_codes import WarningCode, code_of
from engine.io import load_radiograph


@pytest.mark.parametrize(
    ("side", "model_side", "low"),
    [
        # The 512 px classifier: the cut is in pixels (320), not at 0.8 of its side (409).
        (256, 512, True),
        (288, 512, True),
        (319, 512, True),
        (320, 512, False),
        (384, 512, False),
        (1024, 512, False),
        # The 384 px classifier: 0.8 of its side (307) is the nearer cut.
        (288, 384, True),
        (307, 384, True),
        (308, 384, False),
        # A classifier reading 128 px up-samples nothing of a 256 px file.
        (256, 128, False),
        (100, 128, True),
    ],
)
def test_low_means_below_the_measured_pixel_count(side, model_side, low):
    resolution = SourceResolution(side, model_side)
    assert resolution.low is low
    assert (side < min(LOW_RESOLUTION_SIDE, LOW_RESOLUTION_SHARE * model_side)) is low


def test_bad_sides_are_refused():
    with pytest.raises(ValueError, match="positive"):
        SourceResolution(0, 384)


@pytest.mark.parametrize(
    ("healthy_verdict", "reason"),
    [(True, "fewer mild findings"), (False, "can read as disease")],
)
def test_the_warning_names_both_sides_its_code_and_the_verdict_s_reason(healthy_verdict, reason):
    resolution = SourceResolution(256, 384)
    warning = resolution.warning(healthy_verdict)
    assert code_of(warning) is WarningCode.LOW_RESOLUTION
    assert "256 px" in warning
    assert "384 px" in warning
    assert reason in warning
    caution = resolution.caution(healthy_verdict)
    assert caution.startswith("LOW RESOLUTION (256 px)")
    assert ("healthy verdict" in caution) is healthy_verdict
    assert ("positive verdict" in caution) is not healthy_verdict


def _coarse_chest(tmp_path, side: int):
    """A ``side`` x ``side`` 8-bit image with two darker 'lungs'."""
    rows, columns = np.mgrid[0:side, 0:side] / side
    image = np.full((side, side), 170, np.uint8)
    for centre in (0.3, 0.7):
        image[((columns - centre) / 0.18) ** 2 + ((rows - 0.5) / 0.35) ** 2 < 1] = 60
    path = tmp_path / f"chest_{side}.png"
    Image.fromarray(image).save(path)
    return load_radiograph(path)


@pytest.mark.parametrize("healthy_verdict", [True, False])
def test_a_coarse_image_warns_with_either_verdict(tmp_path, tiny_models, healthy_verdict):
    coarse = _coarse_chest(tmp_path, 20)  # the tiny classifier reads 32 px: 20 < 0.8 * 32
    probe = explain(coarse, tiny_models, ExplainRequest(with_attributions=False, n_frames=2))
    # A threshold just above or below the tiny model's P decides the verdict.
    threshold = (
        min(0.999, probe.probability + 1e-3)
        if healthy_verdict
        else max(0.001, probe.probability - 1e-3)
    )
    request = ExplainRequest(threshold=threshold, with_attributions=False, n_frames=2)
    result = explain(coarse, tiny_models, request)
    assert result.resolution == SourceResolution(20, 32)
    assert (result.predicted_label == "healthy") is healthy_verdict
    warnings = [w for w in result.warnings if code_of(w) is WarningCode.LOW_RESOLUTION]
    assert len(warnings) == 1
    assert ("fewer mild findings" in warnings[0]) is healthy_verdict
    caution = result.caution() or ""
    assert SourceResolution(20, 32).caution(healthy_verdict) in caution


def test_a_fine_image_never_warns(tmp_path, tiny_models):
    fine = _coarse_chest(tmp_path, 40)  # 40 >= 0.8 * 32
    result = explain(fine, tiny_models, ExplainRequest(threshold=0.999, with_attributions=False))
    assert result.predicted_label == "healthy"
    assert WarningCode.LOW_RESOLUTION not in [code_of(w) for w in result.warnings]
    assert "LOW RESOLUTION" not in (result.caution() or "")
    # The same result on a coarse image would carry it: the caution reads the stored sides.
    coarse = dataclasses.replace(result, resolution=SourceResolution(20, 32))
    assert "LOW RESOLUTION (20 px)" in (coarse.caution() or "")


def test_trustworthy_means_no_caution(tmp_path, tiny_models, without_reasons):
    result = explain(_coarse_chest(tmp_path, 40), tiny_models, ExplainRequest(n_frames=2))
    clean = dataclasses.replace(without_reasons(result), resolution=SourceResolution(40, 32))
    assert clean.caution() is None
    assert clean.trustworthy
    # The same explanation of a coarse image called healthy is not: the caution names it.
    coarse_healthy = dataclasses.replace(
        clean, resolution=SourceResolution(20, 32), probability=0.0
    )
    assert not coarse_healthy.trustworthy
    # Nor is it called diseased: noise in a coarse file can read as disease.
    coarse_diseased = dataclasses.replace(coarse_healthy, probability=1.0)
    assert not coarse_diseased.trustworthy
    assert "positive verdict" in (coarse_diseased.caution() or "")
