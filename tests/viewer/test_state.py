"""The viewer state model (no Qt): evented fields notify once per change, and the changes that
move several fields at once notify after all of them are set."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from viewer_fakes import fake_explanation

from engine.api import Radiograph, VoiPreset, load_radiograph, sample_radiograph_path
from viewer.evented import Evented, EventedModel
from viewer.overlays import Attribution
from viewer.state import DisplayOptions, PaneRole, ViewerState

REPO = Path(__file__).resolve().parents[2]


class Point(EventedModel):
    x = Evented(0)
    y = Evented(0)


def recorder() -> tuple[list[Any], Callable[[Any], None]]:
    seen: list[Any] = []
    return seen, seen.append


@pytest.fixture(scope="module")
def sample() -> Radiograph:
    return load_radiograph(sample_radiograph_path())


def test_setting_a_field_notifies_its_subscribers_once() -> None:
    point = Point()
    values, on_x = recorder()
    changes, on_change = recorder()
    point.events.x.connect(on_x)
    point.events.changed.connect(on_change)

    point.x = 3

    assert point.x == 3
    assert values == [3]
    assert changes == [frozenset({"x"})]


def test_an_unchanged_value_does_not_notify() -> None:
    point = Point(x=3)
    values, on_x = recorder()
    changes, on_change = recorder()
    point.events.x.connect(on_x)
    point.events.changed.connect(on_change)

    point.x = 3
    point.update(x=3, y=0)

    assert values == []
    assert changes == []


def test_update_notifies_after_every_field_is_set() -> None:
    point = Point()
    seen: list[tuple[int, int]] = []
    point.events.x.connect(lambda _x: seen.append((point.x, point.y)))
    changes, on_change = recorder()
    point.events.changed.connect(on_change)

    assert point.update(x=1, y=2) == frozenset({"x", "y"})

    assert seen == [(1, 2)]  # the x subscriber already sees the new y
    assert changes == [frozenset({"x", "y"})]


def test_a_callback_is_connected_once_and_can_be_disconnected() -> None:
    point = Point()
    values, on_x = recorder()
    point.events.x.connect(on_x)
    point.events.x.connect(on_x)
    point.x = 1
    point.events.x.disconnect(on_x)
    point.x = 2
    assert values == [1]


def test_unknown_fields_are_errors() -> None:
    point = Point()
    with pytest.raises(AttributeError):
        point.update(z=1)
    with pytest.raises(AttributeError):
        point.events.z.connect(print)


def test_display_options_compare_by_value() -> None:
    assert DisplayOptions() == DisplayOptions()
    assert DisplayOptions().attribution_overlay is Attribution.NONE
    changed = DisplayOptions(lung_contour=True)
    assert changed != DisplayOptions()
    assert changed.values()["lung_contour"] is True


def test_images_and_windows_count_as_changed_by_identity(sample: Radiograph) -> None:
    state = ViewerState()
    windows, on_window = recorder()
    state.events.original_window.connect(on_window)
    preset = sample.presets[0]
    state.original_window = preset
    state.original_window = preset  # the same object: no change
    state.original_window = VoiPreset("user", preset.center, preset.width, preset.function)
    assert len(windows) == 2


def test_a_new_image_resets_the_view_and_notifies_once(sample: Radiograph) -> None:
    state = ViewerState()
    state.user_invert = True
    state.frame = 3
    changes, on_change = recorder()
    state.events.changed.connect(on_change)

    state.show_image(Path("a.dcm"), sample)

    assert len(changes) == 1
    assert {"path", "radiograph", "user_invert", "original_window", "frame"} <= changes[0]
    assert state.path == Path("a.dcm")
    assert state.radiograph is sample
    assert state.window(PaneRole.ORIGINAL) is sample.presets[0]
    assert state.window(PaneRole.TRANSLATED) is sample.presets[0]
    assert state.window(PaneRole.DIFFERENCE) is None
    assert not state.user_invert
    assert state.frame == 0
    assert state.inverted is sample.invert


def test_an_explanation_starts_at_its_last_frame(sample: Radiograph) -> None:
    state = ViewerState()
    explanation = fake_explanation(sample, frame_count=5)
    state.show_explanation(explanation)
    assert state.explanation is None  # no image: ignored

    state.show_image(None, sample)
    state.show_explanation(explanation)
    assert state.explanation is explanation
    assert state.frame == 4
    assert state.difference_limit == state.auto_difference_limit > 0
    assert state.frame_clamped(99) == 4
    assert state.frame_clamped(-1) == 0

    assert state.clear_explanation() is True
    assert state.clear_explanation() is False  # none shown: nothing to notify
    assert state.frame_clamped(2) is None


def test_an_unlinked_window_moves_only_the_original_while_explained(sample: Radiograph) -> None:
    state = ViewerState(DisplayOptions(link_window=False))
    state.show_image(None, sample)
    default = sample.presets[0]
    user = default.with_window(default.center + 10.0, default.width)
    state.apply_window(user)
    assert state.translated_window is user  # nothing explained yet: both panes

    state.show_explanation(fake_explanation(sample))
    other = default.with_window(default.center - 10.0, default.width)
    state.apply_window(other)
    assert (state.original_window, state.translated_window) == (other, user)
    state.drag_window(PaneRole.TRANSLATED, default)
    assert (state.original_window, state.translated_window) == (other, default)

    state.display.link_window = True
    state.link_windows()
    assert state.translated_window is other


def test_reset_brings_back_the_default_window_polarity_and_scale(sample: Radiograph) -> None:
    state = ViewerState()
    state.show_image(None, sample)
    state.show_explanation(fake_explanation(sample))
    auto = state.difference_limit
    state.toggle_invert()
    state.scale_difference(4.0)
    state.apply_window(sample.presets[0].with_window(1.0, 2.0))

    state.reset_view()

    assert not state.user_invert
    assert state.difference_limit == auto
    assert state.original_window is sample.presets[0]


def test_the_state_modules_import_no_qt() -> None:
    """The state is a model: widgets draw it, and it imports none of them."""
    code = (
        "import sys, viewer.state, viewer.evented\n"
        "loaded = [name for name in ('PySide6', 'pyqtgraph', 'qasync') if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
