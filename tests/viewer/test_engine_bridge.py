"""The real explanation engine behind the viewer (tiny random models, not model quality)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.api import Direction as EngineDirection
from engine.api import (
    ExplainRequest,
    explain,
    load_model_set,
    load_radiograph,
    sample_radiograph_path,
)
from engine.testing import write_tiny_models
from viewer.engine_bridge import bridge, engine_explainer
from viewer.explanation import Direction


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("models"))


def test_bridge_expresses_changes_in_modality_units(models_dir):
    radiograph = load_radiograph(sample_radiograph_path())
    result = explain(radiograph, load_model_set(models_dir), ExplainRequest(n_frames=3))
    bridged = bridge(radiograph, result)
    assert bridged.translated.shape == radiograph.shape
    np.testing.assert_allclose(bridged.translated - radiograph.pixels, bridged.difference, atol=0.5)
    lung = result.right_lung | result.left_lung
    assert np.all(bridged.difference[~lung] == 0)
    assert len(bridged.frames) == 3
    np.testing.assert_array_equal(bridged.frames[0].translated, radiograph.pixels)
    assert bridged.probability_original == result.probability
    expected = {
        EngineDirection.TO_HEALTHY: Direction.TO_HEALTHY,
        EngineDirection.TO_DISEASE: Direction.TO_DISEASE,
    }[result.primary.direction]
    assert bridged.direction is expected


def test_kept_devices_are_outlined_in_amber_with_the_lung_contour(models_dir):
    from viewer.overlays import KEPT_CONTOUR_RGB, LUNG_CONTOUR_RGB

    radiograph = load_radiograph(sample_radiograph_path())
    lung = np.zeros(radiograph.shape, bool)
    lung[40:-40, 20:-20] = True
    keep = np.zeros(radiograph.shape, bool)
    keep[80:100, 60:90] = True  # a "pacemaker" inside the lung field
    models = load_model_set(models_dir)
    request = ExplainRequest(n_frames=2, with_attributions=False)
    result = explain(radiograph, models, request, lung_mask=lung, keep_mask=keep)
    contour = bridge(radiograph, result).overlays.lung_contour
    assert contour is not None
    colours = {tuple(int(v) for v in pixel[:3]) for pixel in contour[contour[..., 3] > 0]}
    assert colours == {LUNG_CONTOUR_RGB, KEPT_CONTOUR_RGB}
    assert tuple(contour[80, 75, :3]) == KEPT_CONTOUR_RGB  # the kept box's top edge
    plain = explain(radiograph, models, request, lung_mask=lung)
    plain_contour = bridge(radiograph, plain).overlays.lung_contour
    assert plain_contour is not None
    assert not np.any(np.all(plain_contour[..., :3] == KEPT_CONTOUR_RGB, axis=-1))


def test_the_panel_says_what_the_explanation_left_unchanged(
    make_main_window, qtbot, models_dir, tmp_path
):
    import shutil

    import torch

    from engine.models import BundleConfig, save_bundle
    from engine.networks import Architecture, UNet

    window = make_main_window(explainer=engine_explainer(models_dir))
    with qtbot.waitSignal(window.explanation_shown, timeout=60_000):
        window.session.open_path(str(sample_radiograph_path()))
    assert window.explanation_panel.kept_label.text() == "—"  # no device segmenter: nothing kept
    # Segmenters that call every pixel lung and every pixel a device: the whole lung field
    # stays unchanged.
    folder = tmp_path / "with_devices"
    shutil.copytree(models_dir, folder)
    for model_id, channels in (("segmenter", 2), ("device_segmenter", 1)):
        network = UNet(in_channels=1, out_channels=channels, base_width=4, depth=2)
        with torch.no_grad():
            network.head.weight.zero_()
            network.head.bias.fill_(5.0)
        kwargs = {"in_channels": 1, "out_channels": channels, "base_width": 4, "depth": 2}
        config = BundleConfig(model_id, Architecture.UNET, kwargs, (32, 32), {})
        shutil.rmtree(folder / model_id, ignore_errors=True)
        save_bundle(network, folder, config)
    window = make_main_window(explainer=engine_explainer(folder))
    with qtbot.waitSignal(window.explanation_shown, timeout=60_000):
        window.session.open_path(str(sample_radiograph_path()))
    expected = "marked as devices: 100.0 % of the lung field"
    assert window.explanation_panel.kept_label.text() == expected


def test_window_shows_the_engine_explanation(make_main_window, qtbot, models_dir):
    window = make_main_window(explainer=engine_explainer(models_dir))
    with qtbot.waitSignal(window.explanation_shown, timeout=60_000):
        window.session.open_path(str(sample_radiograph_path()))
    assert window.explanation_panel.model_label.text().startswith(models_dir.name)


def test_export_writes_a_gif_without_identifiers(make_main_window, qtbot, models_dir, tmp_path):
    from PIL import Image

    window = make_main_window(explainer=engine_explainer(models_dir))
    with qtbot.waitSignal(window.explanation_shown, timeout=60_000):
        window.session.open_path(str(sample_radiograph_path()))
    target = tmp_path / "export.gif"
    with qtbot.waitSignal(window.exported, timeout=60_000) as signal:
        window.session.exports.export_gif(str(target))
    assert signal.args == [str(target)]
    with Image.open(target) as gif:
        assert gif.n_frames > 2
    data = target.read_bytes()
    radiograph = load_radiograph(sample_radiograph_path())
    for secret in radiograph.identity.values():
        if len(secret) >= 6:
            assert secret.encode() not in data, secret


def test_export_without_an_explanation_says_so(make_main_window, qtbot):
    window = make_main_window()
    window.session.exports.export()
    assert "Nothing to export" in window.statusBar().currentMessage()


def test_the_unchanged_row_reads_plainly_for_no_devices(models_dir):
    from viewer.explanation_panel import kept_text

    radiograph = load_radiograph(sample_radiograph_path())
    lung = np.zeros(radiograph.shape, bool)
    lung[40:-40, 20:-20] = True
    models = load_model_set(models_dir)
    request = ExplainRequest(n_frames=2, with_attributions=False)
    none = explain(radiograph, models, request, lung_mask=lung, keep_mask=np.zeros_like(lung))
    assert kept_text(bridge(radiograph, none)) == "no devices marked"
    assert kept_text(bridge(radiograph, explain(radiograph, models, request))) == "—"
