"""The explanation entry point with tiny random models (machinery, not model quality)."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from engine.errors import CancelledError
from engine.explain import pipeline
from engine.explain.pipeline import Direction, ExplainRequest, explain


def test_result_is_complete_and_on_the_original_grid(tiny_models, chest_like):
    result = explain(chest_like, tiny_models, ExplainRequest(request_id=7, n_frames=4))
    assert result.request_id == 7
    assert result.original.shape == chest_like.shape
    assert result.right_lung.shape == chest_like.shape
    assert result.right_lung.dtype == bool
    assert 0.0 <= result.probability <= 1.0
    counterfactual = result.primary
    assert counterfactual.translated.shape == chest_like.shape
    np.testing.assert_allclose(
        counterfactual.difference, counterfactual.translated - result.original, atol=1e-6
    )
    assert len(counterfactual.frames.frames) == 4
    first = counterfactual.frames.frames[0]
    np.testing.assert_array_equal(first.image, result.original)
    # The frames are classified as one batch, the original alone: float32 kernels may sum in
    # another order for a batch (AMD EPYC: 4e-9), so equal means equal to float32 precision.
    assert first.probability == pytest.approx(result.probability, abs=1e-6)
    assert result.attributions is not None
    for attribution in (result.attributions.gradcam, result.attributions.gradient):
        assert attribution.shape == chest_like.shape
        assert 0.0 <= attribution.min() <= attribution.max() <= 1.0
    assert [name for name, _ in result.timings][:3] == ["display", "segment", "classify"]
    assert "classifier@" in result.model_label
    assert not result.original.flags.writeable


def test_auto_direction_goes_toward_the_other_class(tiny_models, chest_like):
    result = explain(chest_like, tiny_models)
    expected = Direction.TO_HEALTHY if result.probability >= 0.5 else Direction.TO_DISEASE
    assert result.primary.direction is expected


def test_validity_needs_a_qualifying_original_and_a_crossing_composite(tiny_models, chest_like):
    result = explain(chest_like, tiny_models, ExplainRequest(direction=Direction.BOTH))
    assert [c.direction for c in result.counterfactuals] == [
        Direction.TO_HEALTHY,
        Direction.TO_DISEASE,
    ]
    original_diseased = result.probability >= 0.5
    for counterfactual in result.counterfactuals:
        to_disease = counterfactual.direction is Direction.TO_DISEASE
        # Exactly one direction starts on its source side.
        assert counterfactual.qualifies == (original_diseased != to_disease)
        crossed = (counterfactual.probability >= 0.5) == to_disease
        assert counterfactual.valid == (counterfactual.qualifies and crossed)
        # The verdict is the composite's: the last full frame's probability.
        assert counterfactual.probability == pytest.approx(
            counterfactual.frames.frames[-1].probability
        )
        if not counterfactual.qualifies:
            assert counterfactual.verdict == "not-qualifying"
            assert any(w.startswith("not a counterfactual") for w in result.warnings)
        elif not counterfactual.valid:
            assert any("invalid counterfactual" in w for w in result.warnings)
    assert result.caution() is not None  # one direction never qualifies
    assert "NOT A COUNTERFACTUAL" in result.caution()


def test_change_stays_in_the_lungs_and_brightening_shows_as_positive(
    tiny_models, chest_like, monkeypatch
):
    real_translate = pipeline.translate

    def brighten(model, image, lung, keep=None):
        real = real_translate(model, image, lung, keep)
        return dataclasses.replace(real, change=np.full(image.shape, 0.1, np.float32))

    monkeypatch.setattr(pipeline, "translate", brighten)
    result = explain(chest_like, tiny_models, ExplainRequest(direction=Direction.TO_DISEASE))
    lung = result.right_lung | result.left_lung
    difference = result.primary.difference
    assert np.all(difference[~lung] == 0)
    unclipped = lung & (result.original <= 0.9)
    np.testing.assert_allclose(difference[unclipped], 0.1, atol=1e-6)
    if unclipped.any():
        assert result.primary.statistics.lung.mean_change > 0


def test_cancel_stops_with_cancelled_error(tiny_models, chest_like):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        explain(chest_like, tiny_models, cancel=cancel)


def test_progress_is_reported_in_order(tiny_models, chest_like):
    seen: list[float] = []
    explain(chest_like, tiny_models, progress=lambda fraction, stage: seen.append(fraction))
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_bad_request_values():
    with pytest.raises(ValueError, match="threshold"):
        ExplainRequest(threshold=1.5)
    with pytest.raises(ValueError, match="n_frames"):
        ExplainRequest(n_frames=1)


def test_frame_probabilities_start_at_the_original_and_end_at_the_counterfactual(
    tiny_models, chest_like
):
    result = explain(chest_like, tiny_models, ExplainRequest(direction=Direction.TO_DISEASE))
    frames = result.primary.frames.frames
    assert frames[0].position == 0.0
    assert frames[0].probability == pytest.approx(result.probability, abs=1e-6)
    at_one = next(frame for frame in frames if frame.position == 1.0)
    assert at_one.probability == pytest.approx(result.primary.probability)
