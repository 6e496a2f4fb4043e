"""ViewerSettings: typed values with defaults, kept in the test's own INI file."""

from __future__ import annotations

from pathlib import Path

from viewer.overlays import DEFAULT_OVERLAY_OPACITY
from viewer.settings import MAX_RECENT_FILES, ViewerSettings


def test_defaults(tmp_path: Path) -> None:
    settings = ViewerSettings.in_file(tmp_path / "s.ini")
    assert settings.recent_files == []
    assert settings.last_folder == ""
    assert settings.invert_mouse_direction is False
    assert settings.link_window is True
    assert settings.geometry is None


def test_values_survive_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    settings = ViewerSettings.in_file(path)
    settings.invert_mouse_direction = True
    settings.add_recent_file("/a.dcm")
    settings.sync()

    again = ViewerSettings.in_file(path)
    assert again.invert_mouse_direction is True
    assert again.recent_files == ["/a.dcm"]  # one entry comes back as a list, not a string


def test_recent_files_are_unique_newest_first_and_bounded(tmp_path: Path) -> None:
    settings = ViewerSettings.in_file(tmp_path / "s.ini")
    for index in range(MAX_RECENT_FILES + 3):
        settings.add_recent_file(f"/{index}.dcm")
    files = settings.add_recent_file("/5.dcm")
    assert files[0] == "/5.dcm"
    assert len(files) == MAX_RECENT_FILES
    assert files.count("/5.dcm") == 1


def test_a_damaged_settings_file_reads_as_defaults(tmp_path: Path) -> None:
    """Hand-edited or damaged values never stop the viewer from starting."""
    path = tmp_path / "s.ini"
    path.write_text("[files]\nrecent=@Variant(garbage)\n[display]\noverlay_opacity=half\n")
    settings = ViewerSettings.in_file(path)
    assert settings.recent_files == []
    assert settings.overlay_opacity == DEFAULT_OVERLAY_OPACITY

    store = settings._store
    store.setValue("files/recent", 7)  # not a list: what an old or foreign writer could leave
    store.setValue("display/overlay_opacity", 0.25)
    assert settings.recent_files == []
    assert settings.overlay_opacity == 0.25


def test_qt_binding_keeps_its_references_to_none_and_true() -> None:
    """PySide6 6.12.0 on Python 3.11 drops a reference to None per void call and to True per
    emit(), which aborts the app within seconds ("none_dealloc"); the lock file excludes it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        emitted = Signal()

    emitter = Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200):
        emitter.setObjectName("x")
        emitter.emitted.emit()
    assert sys.getrefcount(None) >= none_before - 20
    assert sys.getrefcount(True) >= true_before - 20
