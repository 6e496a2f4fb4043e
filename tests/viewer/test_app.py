"""Start-up self-test and the README screenshot."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from PIL import Image
from pytestqt.qtbot import QtBot

from engine.api import default_models_dir, sample_radiograph_path
from viewer.app import EXIT_OK, run_viewer
from viewer.engine_bridge import engine_explainer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_self_test_explains_the_sample_and_exports_a_gif(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="viewer.app"):
        assert run_viewer(None, None, self_test=True) == EXIT_OK
    assert "explanation exported as GIF" in caplog.text


def test_self_test_opens_the_image_it_is_given(tmp_path: Path) -> None:
    """``view FILE --self-test --screenshot`` is how docs/images gets its phantom and CR views:
    two different files give two different screenshots (the sample both times would not)."""
    shots = []
    for name, value in (("dark", 10), ("bright", 240)):
        image = np.full((96, 80), value, dtype=np.uint8)
        image[20:70, 10:35] = 255 - value
        path = tmp_path / f"{name}.png"
        Image.fromarray(image).save(path)
        shot = tmp_path / f"{name}_shot.png"
        assert run_viewer(str(path), str(tmp_path), self_test=True, screenshot=str(shot)) == 0
        shots.append(np.asarray(Image.open(shot).convert("L"), dtype=np.float32))
    assert shots[0].shape == shots[1].shape
    assert np.mean(np.abs(shots[0] - shots[1])) > 5.0


def test_self_test_without_models_still_opens_the_sample(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="viewer.app"):
        assert run_viewer(None, str(tmp_path), self_test=True) == EXIT_OK
    assert "no models" in caplog.text


def test_screenshot_of_the_main_window(make_main_window: MakeMainWindow, qtbot: QtBot) -> None:
    """The README picture: the bundled sample explained by the shipped default models."""
    window = make_main_window(explainer=engine_explainer(default_models_dir()))
    window.resize(1600, 900)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    window.explanation_panel.slider.setValue(3)
    original = window.comparison.original
    rows, columns = window.state.radiograph.shape
    original.graphics.scene().sigMouseMoved.emit(original.scene_point(rows * 0.45, columns * 0.32))

    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "main_window.png"
    assert window.grab().save(str(target))
    assert target.stat().st_size > 10_000
    assert window.explanation_panel.slider.value() == 3
    assert window.explanation_panel.probability_label.text()
