"""The banner over the panes: invalid counterfactuals and out-of-distribution inputs."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import LOAD_TIMEOUT_MS
from pytestqt.qtbot import QtBot
from viewer_fakes import fake_explainer, fake_explanation

from engine import api
from engine.api import ExplanationResult, Radiograph, sample_radiograph_path
from viewer.engine_bridge import bridge
from viewer.explanation import AlertKind, explanation_alerts
from viewer.main_window import MainWindow


@pytest.fixture
def window(make_main_window, qtbot: QtBot) -> MainWindow:
    window = make_main_window(explainer=fake_explainer)
    with qtbot.waitSignal(window.explanation_shown, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    return window


def test_a_valid_explanation_shows_no_banner(window: MainWindow) -> None:
    window.session.explanations.show_explanation(
        fake_explanation(window.state.radiograph, valid=True)
    )
    assert not window.banner.isVisible()


def test_invalid_counterfactual_lights_the_banner(window: MainWindow) -> None:
    engine_note = api.EngineWarning(
        api.WarningCode.INVALID_COUNTERFACTUAL,
        "invalid counterfactual (to-disease): the translated image did not cross",
    )
    window.session.explanations.show_explanation(
        fake_explanation(window.state.radiograph, valid=False, warnings=(engine_note,))
    )
    assert window.banner.isVisible()
    assert window.banner.property("severity") == "invalid"
    assert "INVALID COUNTERFACTUAL" in window.banner.text()
    assert "0.15 → 0.85" in window.banner.text()
    # The engine's own sentence is folded into the structured alert: shown once, not twice.
    assert window.explanation_panel.banner.text().count("nvalid counterfactual") == 1


def test_out_of_distribution_message_lights_the_banner(window: MainWindow) -> None:
    message = "out of distribution: unlike the training images (score 4.2)"
    window.session.explanations.show_explanation(
        fake_explanation(window.state.radiograph, out_of_distribution=message)
    )
    assert window.banner.isVisible()
    assert window.banner.property("severity") == "ood"
    assert "OUT OF DISTRIBUTION" in window.banner.text()
    assert message in window.banner.text()


def test_minor_notes_stay_in_the_side_panel(window: MainWindow) -> None:
    window.session.explanations.show_explanation(
        fake_explanation(window.state.radiograph, warnings=("slider not monotonic",))
    )
    assert not window.banner.isVisible()
    assert window.explanation_panel.banner.isVisible()


def test_opening_another_image_clears_the_banner(window: MainWindow, qtbot: QtBot) -> None:
    window.session.explanations.show_explanation(
        fake_explanation(window.state.radiograph, valid=False)
    )
    assert window.banner.isVisible()
    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path(str(sample_radiograph_path()))
    assert not window.banner.isVisible()


def test_bridge_reads_validity_and_ood_from_the_engine_result(
    tiny_result: tuple[Radiograph, ExplanationResult],
) -> None:
    radiograph, result = tiny_result
    ood_warning = api.EngineWarning(
        api.WarningCode.OUT_OF_DISTRIBUTION,
        "out of distribution (score 4.20 > 1): the image is unlike the training data",
    )
    invalid = dataclasses.replace(
        result,
        counterfactuals=(dataclasses.replace(result.primary, valid=False),),
        warnings=(ood_warning, "slider not monotonic"),
        ood_score=4.2,
        segmentation_uncertainty=0.01,
    )
    alerts = explanation_alerts(bridge(radiograph, invalid))
    assert [alert.kind for alert in alerts] == [
        AlertKind.INVALID,
        AlertKind.OUT_OF_DISTRIBUTION,
        AlertKind.NOTE,
    ]
    assert alerts[1].text == ood_warning

    # The code decides, not the words: plain text that reads like an OOD warning is a note.
    worded = dataclasses.replace(invalid, warnings=(str(ood_warning),))
    alerts = explanation_alerts(bridge(radiograph, worded))
    assert alerts[1].text == "the image is unlike the models' training data (score 4.20)"
    assert alerts[2].kind is AlertKind.NOTE

    # The engine's flag decides, not the words: a familiar image has no OOD alert.
    valid = dataclasses.replace(
        result,
        counterfactuals=(dataclasses.replace(result.primary, valid=True),),
        warnings=(),
        ood_score=0.3,
        segmentation_uncertainty=0.01,
    )
    assert explanation_alerts(bridge(radiograph, valid)) == ()
    uncertain = dataclasses.replace(valid, ood_score=None, segmentation_uncertainty=0.9)
    (alert,) = explanation_alerts(bridge(radiograph, uncertain))
    assert alert.kind is AlertKind.OUT_OF_DISTRIBUTION
    assert "unlike the models' training data" in alert.text
