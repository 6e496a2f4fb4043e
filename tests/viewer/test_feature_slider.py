"""The FIGAN feature slider in the viewer: feature entries beside the directions, the exploration
in the panes and on the slider, and model folders whose FIGAN bundle is missing or unusable."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from pytestqt.qtbot import QtBot
from viewer_fakes import FAKE_FEATURE_NOTE, FAKE_FEATURES, FakeFeatureExplainer

from engine.api import ModelError, default_models_dir, sample_radiograph_path
from viewer.engine_bridge import FIGAN_FOLDER, engine_explainer
from viewer.explanation import Direction, Feature
from viewer.explanation_panel import FEATURE_SCORE_TITLE, STRENGTH_TITLE
from viewer.export import ExportKind, ExportRequest
from viewer.feature_bridge import SYNTHETIC_NOTE, FeatureExplanation
from viewer.main_window import MainWindow
from viewer.overlays import Attribution

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FEATURE_TIMEOUT_MS = 60_000  # a real exploration on a loaded 2-core machine
INVERSION_STEPS = 200  # the default: with fewer the shipped FIGAN's sample frames barely moved P


def _open_sample(window: MainWindow, qtbot: QtBot) -> None:
    with qtbot.waitSignal(window.explanation_shown, timeout=FEATURE_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))


def _choose(window: MainWindow, qtbot: QtBot, key: str) -> None:
    """Pick the combo entry with item data ``key`` (agreeing to the wait for a feature that was
    not explored on this image yet) and wait for its explanation."""
    combo = window.explanation_panel.direction_combo
    index = combo.findData(key)
    assert index >= 0, f"no entry {key!r} in {_entries(window)}"
    with qtbot.waitSignal(window.explanation_shown, timeout=FEATURE_TIMEOUT_MS):
        combo.setCurrentIndex(index)
        _confirm_feature(window)


def _confirm_feature(window: MainWindow) -> None:
    """Click Compute in the dialog that asks before an exploration, when it is open."""
    dialog = window.session.explanations.feature_dialog
    if dialog is not None and dialog.isVisible():
        dialog.compute_button.click()


def _entries(window: MainWindow) -> list[str]:
    combo = window.explanation_panel.direction_combo
    return [combo.itemText(index) for index in range(combo.count()) if combo.itemData(index)]


def test_feature_titles_give_the_share_of_label_variance() -> None:
    assert Feature(0, 0.6748).label == "Feature 1 (67 % of label variance)"
    assert Feature(3, 0.0136).label == "Feature 4 (1.4 % of label variance)"


def test_fake_features_are_listed_and_their_frames_drive_the_slider(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    explainer = FakeFeatureExplainer()
    window = make_main_window(explainer=explainer)
    _open_sample(window, qtbot)
    panel = window.explanation_panel
    assert panel.features == FAKE_FEATURES
    assert _entries(window)[len(Direction) :] == [
        "Feature 1 (67 % of label variance)",
        "Feature 2 (4.3 % of label variance)",
    ]

    _choose(window, qtbot, "feature-2")

    assert explainer.choices == [Direction.AUTO, FAKE_FEATURES[1]]
    explanation = window.comparison.explanation
    assert explanation is not None
    assert explanation.direction == FAKE_FEATURES[1]
    assert panel.slider.maximum() == len(explanation.frames) - 1 == 8
    assert panel.slider_group.title() == FEATURE_SCORE_TITLE
    panel.slider.setValue(0)
    first, last = explanation.frames[0], explanation.frames[-1]
    assert first.probability == pytest.approx(0.3)  # 0.5 - 0.1 per SD x 2 SD
    assert panel.probability_label.text() == f"P(pneumoconiosis) = {first.probability:.2f}"
    assert "Frame 1 of 9 · score -2.00 SD" in panel.frame_label.text()
    assert f"+2 SD {last.probability:.2f}" in panel.probability_detail.text()
    np.testing.assert_array_equal(window.comparison.translated.values, first.translated)
    assert FAKE_FEATURE_NOTE in window.explanation_panel.banner.text()

    _choose(window, qtbot, Direction.TO_HEALTHY.value)  # back to the CycleGAN
    assert panel.slider_group.title() == STRENGTH_TITLE
    assert "strength" in panel.frame_label.text()


def _shipped_feature_1_title() -> str:
    """The menu entry the shipped FIGAN's first PLS component must get (its share, from the
    bundle's own pls.json)."""
    pls = json.loads((default_models_dir() / FIGAN_FOLDER / "pls.json").read_text())
    return Feature(0, pls["explained_label_variance"][0]).label


def _explain_shipped_feature_1(window: MainWindow, qtbot: QtBot) -> FeatureExplanation:
    _open_sample(window, qtbot)
    assert _entries(window)[len(Direction)] == _shipped_feature_1_title()
    assert len(window.explanation_panel.features) == 4
    _choose(window, qtbot, "feature-1")
    explanation = window.comparison.explanation
    assert isinstance(explanation, FeatureExplanation)
    return explanation


@pytest.fixture
def shipped_window(make_main_window: MakeMainWindow) -> MainWindow:
    models = default_models_dir()
    assert (models / FIGAN_FOLDER).is_dir(), "the shipped models have no FIGAN bundle"
    return make_main_window(explainer=engine_explainer(models, inversion_steps=INVERSION_STEPS))


def test_shipped_figan_moves_feature_1_from_minus_to_plus_2_sd(
    shipped_window: MainWindow, qtbot: QtBot
) -> None:
    window = shipped_window
    explanation = _explain_shipped_feature_1(window, qtbot)

    frames = explanation.frames
    assert len(frames) == 9
    assert [frame.strength for frame in frames] == pytest.approx(np.linspace(-2.0, 2.0, 9))
    # Feature 1 carries the most label variance: the classifier's verdict moves with it.
    # Measured in logits: at the operating point the sample sits where P is saturated (0.99+),
    # so the same movement shows as a tiny change of P. The FIGAN of the 512 px classifier
    # (2026-12-07) moves the sample's logit by 0.24 over the sweep (that of the 384 px one by
    # more than 0.5); a slider that moves nothing gives 0 (docs/figan.md).
    first, last = (np.clip(f.probability, 1e-12, 1 - 1e-12) for f in (frames[0], frames[-1]))
    assert abs(np.log(last / (1 - last)) - np.log(first / (1 - first))) > 0.15
    assert explanation.probability_translated == frames[-1].probability
    assert 0.0 <= explanation.probability_original <= 1.0
    panel = window.explanation_panel
    assert panel.slider.maximum() == 8
    assert panel.probability_label.text() == f"P(pneumoconiosis) = {frames[-1].probability:.2f}"
    np.testing.assert_array_equal(window.comparison.translated.values, frames[-1].translated)
    # The change lies inside the lung field the exploration used, and nowhere else.
    lung = explanation.exploration.lung
    assert np.all(explanation.difference[~lung] == 0)
    assert np.abs(explanation.difference[lung]).max() > 0
    assert SYNTHETIC_NOTE in window.explanation_panel.banner.text()
    # No engine result behind a feature explanation: statistics and heat maps show nothing.
    assert window.statistics_panel.report is None
    window.comparison.set_statistics_visible(True)
    window.comparison.set_attribution(Attribution.GRADCAM)
    panel.slider.setValue(0)
    np.testing.assert_array_equal(window.comparison.translated.values, frames[0].translated)

    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "feature_slider.png"
    assert window.grab().save(str(target))
    assert target.stat().st_size > 10_000


def test_feature_explanation_exports_a_gif_but_no_statistics(
    shipped_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    from PIL import Image

    window = shipped_window
    _explain_shipped_feature_1(window, qtbot)
    target = tmp_path / "feature.gif"
    with qtbot.waitSignal(window.exported, timeout=FEATURE_TIMEOUT_MS):
        window.session.exports.export_gif(str(target))
    with Image.open(target) as gif:
        assert gif.n_frames > 2

    with qtbot.waitSignal(window.error_reported, timeout=LOAD_TIMEOUT_MS) as error:
        window.session.exports.export_to(
            str(tmp_path / "statistics.csv"), ExportRequest(ExportKind.CSV)
        )
    assert "not available for feature explanations" in error.args[0]
    assert not (tmp_path / "statistics.csv").exists()


def test_a_newer_choice_supersedes_a_feature_exploration(
    shipped_window: MainWindow, qtbot: QtBot
) -> None:
    window = shipped_window
    _open_sample(window, qtbot)
    shown: list[object] = []
    window.explanation_shown.connect(
        lambda: shown.append(getattr(window.comparison.explanation, "direction", None))
    )
    errors: list[str] = []
    window.error_reported.connect(errors.append)
    combo = window.explanation_panel.direction_combo

    combo.setCurrentIndex(combo.findData("feature-1"))
    _confirm_feature(window)
    assert "Exploring feature 1" in window.session.status.text  # the exploration runs
    with qtbot.waitSignal(window.explanation_shown, timeout=FEATURE_TIMEOUT_MS):
        combo.setCurrentIndex(combo.findData(Direction.TO_DISEASE.value))
    qtbot.waitUntil(lambda: not window.session.jobs.busy, timeout=FEATURE_TIMEOUT_MS)

    assert shown == [Direction.TO_DISEASE]
    assert errors == []


def test_model_folder_without_figan_lists_no_features(
    make_main_window: MakeMainWindow, qtbot: QtBot, tiny_models_dir: Path
) -> None:
    explainer = engine_explainer(tiny_models_dir)
    assert explainer.features() == ()
    window = make_main_window(explainer=explainer)
    _open_sample(window, qtbot)
    assert window.explanation_panel.features == ()
    assert _entries(window) == [direction.label for direction in Direction]


def test_figan_bundle_of_another_classifier_lists_no_features(
    make_main_window: MakeMainWindow,
    qtbot: QtBot,
    tiny_models_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = shutil.copytree(tiny_models_dir, tmp_path / "models")
    shutil.copytree(default_models_dir() / FIGAN_FOLDER, folder / FIGAN_FOLDER)
    explainer = engine_explainer(folder)
    with pytest.raises(ModelError, match="FIGAN was trained for classifier"):
        explainer.features()

    window = make_main_window(explainer=explainer)
    errors: list[str] = []
    window.error_reported.connect(errors.append)
    with caplog.at_level(logging.WARNING, logger="viewer.main_window"):
        _open_sample(window, qtbot)
    assert window.explanation_panel.features == ()
    assert _entries(window) == [direction.label for direction in Direction]
    assert "FIGAN features unavailable" in caplog.text
    tooltip = window.explanation_panel.direction_combo.toolTip()
    assert tooltip.startswith("FIGAN features unavailable: FIGAN was trained for classifier")
    assert errors == []  # the directions still work: no error dialog at start


@pytest.fixture
def feature_window(make_main_window: MakeMainWindow, qtbot: QtBot) -> MainWindow:
    """The sample explained by the fake CycleGAN, features listed."""
    window = make_main_window(explainer=FakeFeatureExplainer())
    _open_sample(window, qtbot)
    return window


def _select(window: MainWindow, key: str) -> None:
    combo = window.explanation_panel.direction_combo
    combo.setCurrentIndex(combo.findData(key))


def test_choosing_a_feature_asks_first_with_a_time_estimate(
    feature_window: MainWindow, qtbot: QtBot
) -> None:
    window = feature_window
    explainer = window.session.explanations.explainer
    shown = window.comparison.explanation
    _select(window, "feature-1")

    dialog = window.session.explanations.feature_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert "Feature 1" in dialog.text()
    assert re.search(r"about \d+ to \d+ s", dialog.informativeText())
    assert explainer.choices == [Direction.AUTO]  # nothing started yet
    assert window.comparison.explanation is shown

    dialog.cancel_button.click()  # declined: back to the direction, its explanation still shown
    assert window.session.explanations.feature_dialog is None
    assert window.explanation_panel.choice is Direction.AUTO
    assert window.comparison.explanation is shown
    assert explainer.choices == [Direction.AUTO]

    _select(window, "feature-1")
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.explanations.feature_dialog.compute_button.click()
    assert explainer.choices == [Direction.AUTO, FAKE_FEATURES[0]]
    # The next estimate is the measured one.
    _select(window, "feature-2")
    assert "as long as the last one" in window.session.explanations.feature_dialog.informativeText()
    window.session.explanations.feature_dialog.cancel_button.click()
    assert window.explanation_panel.choice == FAKE_FEATURES[0]


def test_a_new_image_returns_to_the_direction(feature_window: MainWindow, qtbot: QtBot) -> None:
    window = feature_window
    explainer = window.session.explanations.explainer
    _choose(window, qtbot, Direction.TO_HEALTHY.value)
    _choose(window, qtbot, "feature-2")
    assert window.explanation_panel.choice == FAKE_FEATURES[1]

    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))

    assert window.explanation_panel.choice is Direction.TO_HEALTHY
    assert explainer.choices[-1] is Direction.TO_HEALTHY
    assert window.session.explanations.feature_dialog is None
    assert window.explanation_panel.slider_group.title() == STRENGTH_TITLE


def test_explorations_are_kept_per_image_and_component(
    feature_window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    window = feature_window
    explainer = window.session.explanations.explainer
    _choose(window, qtbot, "feature-1")
    first = window.comparison.explanation
    _choose(window, qtbot, Direction.TO_DISEASE.value)
    calls = len(explainer.choices)

    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        _select(window, "feature-1")  # kept: no question, no new exploration
    assert window.session.explanations.feature_dialog is None
    assert window.comparison.explanation is first
    assert len(explainer.choices) == calls

    _select(window, "feature-2")  # another component: asks
    assert window.session.explanations.feature_dialog is not None
    window.session.explanations.feature_dialog.cancel_button.click()

    # Another image (a copy of the sample: another file) asks again for feature 1.
    other = tmp_path / "other.dcm"
    shutil.copyfile(sample_radiograph_path(), other)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(other))
    _select(window, "feature-1")
    assert window.session.explanations.feature_dialog is not None
    window.session.explanations.feature_dialog.cancel_button.click()
