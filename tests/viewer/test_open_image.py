"""Opening images through the worker: default display, errors, stale results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import LOAD_TIMEOUT_MS, MakeMainWindow
from pytestqt.qtbot import QtBot
from viewer_fakes import GatedLoader, raising_loader

from engine.api import sample_radiograph_path
from viewer.explanation import NO_EXPLANATION_TEXT
from viewer.rendering import window_levels
from viewer.worker import JobChannel


def test_open_sample_shows_it_with_the_default_window(
    make_main_window: MakeMainWindow, open_sample
) -> None:
    window = make_main_window()
    open_sample(window)

    radiograph = window.state.radiograph
    assert radiograph is not None
    pane = window.comparison.original
    assert pane.has_image
    np.testing.assert_array_equal(pane.image_item.image, radiograph.pixels)
    default = radiograph.presets[0]
    assert pane.levels() == window_levels(default.center, default.width, default.function)
    assert window.state.path == sample_radiograph_path()
    assert sample_radiograph_path().name in window.windowTitle()


def test_without_models_the_explanation_panes_say_so(
    make_main_window: MakeMainWindow, open_sample
) -> None:
    window = make_main_window()
    open_sample(window)

    for pane in (window.comparison.translated, window.comparison.difference):
        assert not pane.has_image
        assert pane._placeholder.isVisible()
        assert pane._placeholder.text() == NO_EXPLANATION_TEXT
    assert window.explanation_panel.probability_detail.text() == NO_EXPLANATION_TEXT
    assert not window.explanation_panel.slider.isEnabled()


def test_a_bad_file_shows_one_line_and_the_app_stays_usable(
    make_main_window: MakeMainWindow, open_sample, qtbot: QtBot, tmp_path: Path
) -> None:
    bad = tmp_path / "not_an_image.dcm"
    bad.write_bytes(b"this is not an image" * 10)
    window = make_main_window()

    with qtbot.waitSignal(window.error_reported, timeout=LOAD_TIMEOUT_MS) as error:
        window.session.open_path(str(bad))

    message = error.args[0]
    assert message.startswith("Cannot open not_an_image.dcm: ")
    assert "\n" not in message
    assert window.errors.dialog.isVisible()
    assert window.errors.dialog.text() == message
    assert window.statusBar().currentMessage() == message
    assert window.state.radiograph is None

    window.errors.dialog.close()
    open_sample(window)
    assert window.comparison.original.has_image


def test_a_superseded_slow_load_never_appears(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    loader = GatedLoader()
    window = make_main_window(loader=loader)
    opened: list[str] = []
    window.image_opened.connect(opened.append)

    window.session.open_path("/nowhere/slow_first.dcm")
    qtbot.waitUntil(loader.slow_started.is_set, timeout=LOAD_TIMEOUT_MS)
    first = window.session.jobs.current_request(JobChannel.IMAGE)
    with qtbot.waitSignal(window.image_opened, timeout=LOAD_TIMEOUT_MS):
        window.session.open_path("/nowhere/second.dcm")
        qtbot.waitUntil(lambda: window.session.jobs.current_request(JobChannel.IMAGE) != first)
        loader.gate.set()  # the first load finishes now, after the second was asked for

    qtbot.waitUntil(lambda: not window.session.jobs.busy, timeout=LOAD_TIMEOUT_MS)
    assert loader.calls == ["slow_first.dcm", "second.dcm"]
    assert opened == ["/nowhere/second.dcm"]
    assert window.state.path == Path("/nowhere/second.dcm")


def test_a_worker_exception_shows_the_error_dialog(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    window = make_main_window(loader=raising_loader(RuntimeError("decoder exploded")))

    with qtbot.waitSignal(window.error_reported, timeout=LOAD_TIMEOUT_MS) as error:
        window.session.open_path("/nowhere/image.dcm")

    assert "RuntimeError: decoder exploded" in error.args[0]
    assert window.errors.dialog.isVisible()
    assert "Traceback" in window.errors.dialog.detailedText()
    assert not window.session.jobs.busy


def test_the_crash_dialog_redacts_identifiers_and_paths(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    # Users paste crash details into bug reports: the dialog must not carry what the exception
    # quoted from the file (a person name, a birth date) or where the file lives.
    error = ValueError("bad PatientName 'DOE^JOHN' born 19450203 in /data/DOE_JOHN/1.dcm")
    window = make_main_window(loader=raising_loader(error))

    with qtbot.waitSignal(window.error_reported, timeout=LOAD_TIMEOUT_MS) as reported:
        window.session.open_path("/nowhere/image.dcm")

    shown = reported.args[0] + window.errors.dialog.text() + window.errors.dialog.detailedText()
    assert "ValueError" in shown
    assert "Traceback" in window.errors.dialog.detailedText()
    for secret in ("DOE^JOHN", "19450203", "/data/DOE_JOHN"):
        assert secret not in shown
    window.errors.dialog.close()


def test_the_progress_bar_and_cancel_button_show_while_a_job_runs(
    make_main_window: MakeMainWindow, qtbot: QtBot
) -> None:
    loader = GatedLoader()
    window = make_main_window(loader=loader)

    window.session.open_path("/nowhere/slow.dcm")
    qtbot.waitUntil(loader.slow_started.is_set, timeout=LOAD_TIMEOUT_MS)
    assert window.progress_bar.isVisible()
    assert window.cancel_button.isVisible()

    window.session.cancel_jobs()  # Esc: the result will be dropped
    loader.gate.set()
    qtbot.waitUntil(lambda: not window.session.jobs.busy, timeout=LOAD_TIMEOUT_MS)
    assert not window.progress_bar.isVisible()
    assert window.state.radiograph is None


def test_recent_files_and_last_folder_are_remembered(
    make_main_window: MakeMainWindow, open_sample, settings
) -> None:
    window = make_main_window()
    open_sample(window)
    window.close()

    assert settings.recent_files == [str(sample_radiograph_path())]
    assert settings.last_folder == str(sample_radiograph_path().parent)
    reopened = make_main_window()
    titles = [action.text() for action in reopened.recent_menu.actions()]
    assert sample_radiograph_path().name in titles


def test_open_folder_lists_its_files(
    make_main_window: MakeMainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    for name in ("b.dcm", "a.png", ".hidden"):
        (tmp_path / name).write_bytes(b"x")
    window = make_main_window()

    with qtbot.waitSignals([window.folder_listed, window.folder_scanned], timeout=LOAD_TIMEOUT_MS):
        window.session.open_folder(str(tmp_path))

    panel = window.folder_panel
    assert panel.file_count() == 2
    assert panel.file_names() == ["a.png", "b.dcm"]
