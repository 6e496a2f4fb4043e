"""The keep mask: pixels (devices) that no counterfactual may change (issue 19)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import InputError
from engine.explain.edit_field import device_growth
from engine.explain.export import KEEP_MASK_FILE, export_explanation, summary
from engine.explain.pipeline import Direction, ExplainRequest, explain
from engine.inference.model_input import model_intensity
from engine.inference.model_set import DEVICE_SEGMENTER_ID, ModelSet, load_model_set
from engine.inference.run import classify, find_devices
from engine.models import BundleConfig, save_bundle
from engine.networks import Architecture, UNet
from engine.testing import write_tiny_models

BOTH = ExplainRequest(direction=Direction.BOTH, n_frames=3, with_attributions=False)


def _device_segmenter(folder, logit: float) -> None:
    """A device segmenter whose every pixel has ``logit`` (0 weights, that bias)."""
    network = UNet(in_channels=1, out_channels=1, base_width=4, depth=2)
    with torch.no_grad():
        network.head.weight.zero_()
        network.head.bias.fill_(logit)
    config = BundleConfig(
        model_id=DEVICE_SEGMENTER_ID,
        architecture=Architecture.UNET,
        architecture_kwargs={"in_channels": 1, "out_channels": 1, "base_width": 4, "depth": 2},
        input_size=(32, 32),
        normalisation={"input": "display [0,1] * 2 - 1"},
    )
    save_bundle(network, folder, config)


def _with_devices(tmp_path, logit: float) -> ModelSet:
    folder = write_tiny_models(tmp_path / "models")
    _device_segmenter(folder, logit)
    return load_model_set(folder)


def test_a_given_keep_mask_is_left_unchanged_by_every_counterfactual(tiny_models, chest_like):
    lung = np.ones(chest_like.pixels.shape, bool)  # all editable but the keep mask
    free = explain(chest_like, tiny_models, BOTH, lung_mask=lung)
    keep = np.zeros_like(lung)
    keep[:, : keep.shape[1] // 2] = True  # everything left of the midline
    kept = explain(chest_like, tiny_models, BOTH, lung_mask=lung, keep_mask=keep)
    assert kept.keep is not None
    assert np.array_equal(kept.keep, keep)
    for before, after in zip(free.counterfactuals, kept.counterfactuals, strict=True):
        assert np.abs(before.difference[lung & keep]).max() > 0  # there was a change to stop
        assert np.all(after.difference[keep] == 0)
        # Outside the keep mask the change is the one made without it.
        np.testing.assert_array_equal(after.translated[~keep], before.translated[~keep])


def test_a_keep_mask_of_another_shape_is_refused(tiny_models, chest_like):
    with pytest.raises(InputError, match="keep mask shape"):
        explain(chest_like, tiny_models, BOTH, keep_mask=np.zeros((3, 3), bool))


def test_without_a_device_segmenter_nothing_is_kept(tiny_models, chest_like):
    assert tiny_models.devices is None
    assert explain(chest_like, tiny_models, BOTH).keep is None


def test_the_device_segmenter_sets_the_keep_mask(tmp_path, chest_like):
    everywhere = _with_devices(tmp_path / "all", 5.0)
    assert everywhere.devices is not None
    assert f"{DEVICE_SEGMENTER_ID}@" in everywhere.version_label()
    lung = np.ones(chest_like.pixels.shape, bool)
    result = explain(chest_like, everywhere, BOTH, lung_mask=lung)
    assert result.keep is not None
    assert result.keep.all()
    for counterfactual in result.counterfactuals:
        assert not counterfactual.difference.any()  # all device: nothing may change
    nowhere = explain(chest_like, _with_devices(tmp_path / "none", -5.0), BOTH, lung_mask=lung)
    assert nowhere.keep is not None
    assert not nowhere.keep.any()
    assert any(c.difference.any() for c in nowhere.counterfactuals)


class _Spot(torch.nn.Module):
    """A device segmenter's stand-in: one positive logit at ``spot`` of the model grid."""

    def __init__(self, spot: tuple[int, int]) -> None:
        super().__init__()
        self.spot = spot

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = torch.full((batch.shape[0], 1, *batch.shape[2:]), -5.0)
        out[:, :, self.spot[0], self.spot[1]] = 5.0
        return out


def test_found_devices_grow_by_whole_model_pixels(tmp_path, chest_like):
    loaded = _with_devices(tmp_path, -5.0).devices
    assert loaded is not None
    spot = dataclasses.replace(loaded, module=_Spot((16, 16)))
    image = model_intensity(chest_like)
    # One device pixel of the 32 px model grid; the 60 x 44 image is letterboxed into it, so a
    # model pixel is 60 / 32 image pixels on a side.
    for grow in (0, 1, 2):
        found = find_devices(spot, image, grow)
        rows, columns = np.nonzero(found)
        side = 60 / 32 * (2 * grow + 1)  # a (2 grow + 1)-pixel square of the model grid
        assert abs((rows.max() - rows.min() + 1) - side) <= 2, (grow, rows.min(), rows.max())
        assert abs((columns.max() - columns.min() + 1) - side) <= 2, grow
    assert np.all(find_devices(spot, image, 2)[find_devices(spot, image, 1)])


def test_the_keep_mask_grows_by_half_a_generator_pixel(tmp_path):
    models = _with_devices(tmp_path, -5.0)  # tiny models: 32 px generators and segmenter
    assert device_growth(models) == 1  # ceil(32 / 64)
    assert models.devices is not None
    shipped_like = dataclasses.replace(
        models,
        devices=dataclasses.replace(
            models.devices,
            config=dataclasses.replace(models.devices.config, input_size=(384, 384)),
        ),
        to_healthy=_resized(models.to_healthy, 128),
        to_disease=_resized(models.to_disease, 128),
    )
    assert device_growth(shipped_like) == 2  # the shipped 384 px segmenter, 128 px generators
    assert device_growth(dataclasses.replace(models, devices=None)) == 0


def _resized(loaded, size: int):
    return dataclasses.replace(
        loaded, config=dataclasses.replace(loaded.config, input_size=(size, size))
    )


def test_a_given_keep_mask_is_copied(tiny_models, chest_like):
    keep = np.zeros(chest_like.pixels.shape, bool)
    keep[5:10, 5:10] = True
    result = explain(chest_like, tiny_models, BOTH, keep_mask=keep)
    assert keep.flags.writeable  # the caller's array is theirs
    assert result.keep is not keep


def test_no_lung_field_gives_no_kept_share(tiny_models, chest_like):
    lung = np.zeros(chest_like.pixels.shape, bool)
    keep = np.ones_like(lung)
    result = explain(chest_like, tiny_models, BOTH, lung_mask=lung, keep_mask=keep)
    assert result.kept_share is None


def test_the_model_resolution_verdict_leaves_the_keep_mask_out(tiny_models, chest_like):
    """The extra model-resolution probability scores the generator's change without the kept
    pixels, like the composite: with everything kept it is the original's."""
    lung = np.ones(chest_like.pixels.shape, bool)
    request = ExplainRequest(direction=Direction.TO_HEALTHY, n_frames=2, with_attributions=False)
    kept = explain(chest_like, tiny_models, request, lung_mask=lung, keep_mask=lung)
    free = explain(chest_like, tiny_models, request, lung_mask=lung)
    unchanged = kept.primary.model_resolution_probability
    assert unchanged is not None
    assert free.primary.model_resolution_probability != pytest.approx(unchanged, abs=1e-9)
    original = classify(tiny_models.classifier, [kept.original], lung)[0]
    assert unchanged == pytest.approx(float(original), abs=1e-5)


def test_the_export_writes_the_keep_mask(tiny_models, chest_like, tmp_path):
    keep = np.zeros(chest_like.pixels.shape, bool)
    keep[5:12, 3:9] = True
    result = explain(chest_like, tiny_models, BOTH, keep_mask=keep)
    export_explanation(result, tmp_path / "with", gif=False)
    written = np.asarray(Image.open(tmp_path / "with" / KEEP_MASK_FILE)) > 127
    np.testing.assert_array_equal(written, keep)
    export_explanation(explain(chest_like, tiny_models, BOTH), tmp_path / "without", gif=False)
    assert not (tmp_path / "without" / KEEP_MASK_FILE).exists()


def test_the_summary_counts_the_kept_pixels_in_the_lung_field(tiny_models, chest_like):
    lung = np.zeros(chest_like.pixels.shape, bool)
    lung[10:50, 5:40] = True
    keep = np.zeros_like(lung)
    keep[0:20, 0:10] = True  # partly outside the lung field: those pixels do not count
    result = explain(chest_like, tiny_models, BOTH, lung_mask=lung, keep_mask=keep)
    kept = summary(result)["kept_unchanged"]
    assert kept["pixels_in_lung_field"] == int((keep & lung).sum()) == 50
    assert kept["share_of_lung_field"] == pytest.approx(50 / lung.sum())
    assert summary(explain(chest_like, tiny_models, BOTH))["kept_unchanged"] is None


def test_the_batch_row_records_the_kept_share(tiny_models, chest_like):
    from engine.explain.batch import result_rows

    lung = np.zeros(chest_like.pixels.shape, bool)
    lung[10:50, 5:40] = True
    keep = np.zeros_like(lung)
    keep[10:20, 5:15] = True  # 100 of the 1400 lung pixels
    result = explain(chest_like, tiny_models, BOTH, lung_mask=lung, keep_mask=keep)
    rows = list(result_rows(result, "chest.png", "healthy"))
    assert len(rows) == 2
    assert {row["kept_share"] for row in rows} == {f"{100 / 1400:.6f}"}
