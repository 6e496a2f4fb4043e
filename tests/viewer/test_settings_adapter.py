"""The settings adapter: the display options go from the state to the settings file and back,
each change is saved as it happens, and settings written by earlier versions still load."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from viewer.overlays import Attribution
from viewer.settings import ViewerSettings
from viewer.settings_adapter import PERSISTED_FIELDS, SettingsAdapter
from viewer.state import DisplayOptions

CHANGED = {
    "link_window": False,
    "diverging_difference": True,
    "invert_mouse_direction": True,
    "lung_contour": True,
    "statistics_overlay": False,
    "attribution_overlay": Attribution.GRADIENT,
    "overlay_opacity": 0.8,
}


def test_every_option_is_persisted() -> None:
    assert set(CHANGED) == set(PERSISTED_FIELDS)
    assert all(isinstance(getattr(ViewerSettings, field), property) for field in PERSISTED_FIELDS)


def test_the_options_survive_a_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    options = DisplayOptions(**CHANGED)
    assert options != DisplayOptions()
    settings = ViewerSettings.in_file(path)
    SettingsAdapter(settings, options).save()
    settings.sync()

    again = DisplayOptions()
    SettingsAdapter(ViewerSettings.in_file(path), again).load()

    assert again == options


def test_each_change_is_saved_once_attached(tmp_path: Path) -> None:
    settings = ViewerSettings.in_file(tmp_path / "settings.ini")
    options = DisplayOptions()
    SettingsAdapter(settings, options).attach()

    options.lung_contour = True
    options.update(attribution_overlay=Attribution.GRADCAM, overlay_opacity=0.3)

    assert settings.lung_contour is True
    assert settings.attribution_overlay is Attribution.GRADCAM
    assert settings.overlay_opacity == pytest.approx(0.3)


def test_attaching_writes_nothing_on_a_first_launch(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    options = DisplayOptions()
    SettingsAdapter(ViewerSettings.in_file(path), options).attach()
    assert options == DisplayOptions()
    assert QSettings(str(path), QSettings.Format.IniFormat).allKeys() == []


def test_settings_written_by_earlier_versions_load(tmp_path: Path) -> None:
    """The keys and stored forms of the release before the state model (an INI file stores
    booleans as "true"/"false" and the attribution as its value)."""
    path = tmp_path / "settings.ini"
    path.write_text(
        "[display]\n"
        "link_window=false\n"
        "diverging_difference=true\n"
        "lung_contour=true\n"
        "statistics_overlay=false\n"
        "attribution_overlay=gradcam\n"
        "overlay_opacity=0.25\n"
        "[mouse]\n"
        "invert_window_direction=true\n",
        encoding="utf-8",
    )
    options = DisplayOptions()
    SettingsAdapter(ViewerSettings.in_file(path), options).load()
    assert options == DisplayOptions(
        link_window=False,
        diverging_difference=True,
        invert_mouse_direction=True,
        lung_contour=True,
        statistics_overlay=False,
        attribution_overlay=Attribution.GRADCAM,
        overlay_opacity=0.25,
    )


def test_damaged_values_load_as_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_text(
        "[display]\nattribution_overlay=occlusion\noverlay_opacity=lots\n", encoding="utf-8"
    )
    options = DisplayOptions(lung_contour=True)
    SettingsAdapter(ViewerSettings.in_file(path), options).load()
    assert options == DisplayOptions()


def test_the_window_restores_and_stores_the_options_through_the_state(
    make_main_window, settings: ViewerSettings
) -> None:
    settings.diverging_difference = True
    window = make_main_window()
    assert window.state.display.diverging_difference is True
    assert window.display_panel.diverging_check.isChecked()

    # A change made anywhere shows in the panel and is stored.
    window.state.display.lung_contour = True
    assert window.display_panel.lung_contour_check.isChecked()
    assert window.comparison.lung_contour_visible
    assert settings.lung_contour is True
    window.display_panel.statistics_check.setChecked(False)
    assert window.state.display.statistics_overlay is False
    assert settings.statistics_overlay is False
