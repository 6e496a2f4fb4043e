"""The check that turns Qt's abort on a missing X11 library or display into one error line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from viewer import app, cli, platform_check
from viewer.platform_check import (
    DEBIAN_PACKAGES,
    display_problem,
    missing_libraries,
    missing_libraries_message,
    pyside_xcb_plugin,
    run_ldd,
)

REPO = Path(__file__).resolve().parents[2]
on_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/ldd: Linux only")

# What glibc's ldd prints for PySide6's plugin on a Debian without libxcb-icccm4 (abridged).
LDD_ICCCM_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x1)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x2)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x3)
"""


def fake_ldd(output: str | None) -> platform_check.LddRunner:
    return lambda _library: output


@pytest.fixture
def nothing_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The libraries the fake ldd reports missing cannot be opened either (as on a bare Debian),
    whatever this machine has installed."""
    monkeypatch.setattr(platform_check, "loadable", lambda _name: False)


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A stand-in for PySide6's plugin, with Qt's library folder two levels up."""
    platforms = tmp_path / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    (tmp_path / "Qt" / "lib").mkdir()
    (platforms / "libqxcb.so").touch()
    return platforms / "libqxcb.so"


X11 = {"DISPLAY": ":0"}
# The X11, GL, keyboard, font and D-Bus libraries: the families a bare system lacks (the rest of
# what ldd lists, libc to libsystemd, every Debian has).
DISPLAY_LIBRARY = re.compile(
    r"lib(xcb|X|xkbcommon|GL|EGL|OpenGL|fontconfig|freetype|glib|gthread|dbus)"
)


@pytest.mark.usefixtures("nothing_loads")
def test_missing_libraries_are_named_once_each_in_ldds_order(plugin: Path) -> None:
    found = missing_libraries(plugin, ldd=fake_ldd(LDD_ICCCM_MISSING))
    assert found == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


@pytest.mark.usefixtures("nothing_loads")
def test_qts_own_libraries_never_count_as_missing(plugin: Path) -> None:
    # ldd may miss a library next to Qt's that the plugin's RUNPATH finds: Qt's, not the system's.
    (plugin.parents[2] / "lib" / "libQt6XcbQpa.so.6").touch()
    output = "\tlibQt6XcbQpa.so.6 => not found\n"
    assert missing_libraries(plugin, ldd=fake_ldd(output)) == []


def test_a_library_the_loader_opens_is_not_missing(
    plugin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform_check, "loadable", lambda name: name == "libxcb-icccm.so.4")
    found = missing_libraries(plugin, ldd=fake_ldd(LDD_ICCCM_MISSING))
    assert found == ["libxcb-keysyms.so.1"]


def test_without_ldd_nothing_is_reported(plugin: Path) -> None:
    assert missing_libraries(plugin, ldd=fake_ldd(None)) == []


def test_the_message_names_libraries_and_the_install_command() -> None:
    message = missing_libraries_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert message == (
        "the X11 display needs system libraries that are missing: libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1 - install them with: sudo apt-get install libxcb-icccm4 "
        "libxcb-keysyms1"
    )


def test_a_library_without_a_known_package_gets_a_search_hint() -> None:
    message = missing_libraries_message(["libxcb-cursor.so.0", "libfancy.so.7"])
    assert "sudo apt-get install libxcb-cursor0 -" in message
    assert "find the package of libfancy.so.7 with: apt-file search NAME" in message
    assert "\n" not in message


@pytest.mark.usefixtures("nothing_loads")
@pytest.mark.parametrize(
    "environ",
    [X11, {**X11, "QT_QPA_PLATFORM": "xcb"}, {"DISPLAY": ":1", "QT_QPA_PLATFORM": "xcb:dpi=96"}],
)
def test_x11_with_a_missing_library_is_a_problem(plugin: Path, environ: dict[str, str]) -> None:
    problem = display_problem(
        environ, system="linux", plugin=plugin, ldd=fake_ldd(LDD_ICCCM_MISSING)
    )
    assert problem is not None
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem


@pytest.mark.parametrize(
    ("environ", "self_test", "system"),
    [
        ({**X11, "QT_QPA_PLATFORM": "offscreen"}, False, "linux"),  # headless on purpose
        ({**X11, "QT_QPA_PLATFORM": "wayland"}, False, "linux"),  # xcb never loaded
        ({**X11, "WAYLAND_DISPLAY": "wayland-0"}, False, "linux"),  # Qt may pick Wayland
        ({}, True, "linux"),  # the self-test defaults to offscreen
        (X11, False, "darwin"),  # Qt's Cocoa plugin has no system libraries to miss
        ({}, False, "win32"),
    ],
)
def test_where_xcb_is_not_used_nothing_is_checked(
    plugin: Path, environ: dict[str, str], self_test: bool, system: str
) -> None:
    def ldd(_library: Path) -> str:
        raise AssertionError("ldd must not run")

    problem = display_problem(environ, self_test=self_test, system=system, plugin=plugin, ldd=ldd)
    assert problem is None


def test_x11_with_every_library_is_fine(plugin: Path) -> None:
    ldd = fake_ldd("\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x1)\n")
    assert display_problem(X11, system="linux", plugin=plugin, ldd=ldd) is None


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "no display: DISPLAY and WAYLAND_DISPLAY are unset"),
        ({"QT_QPA_PLATFORM": "xcb"}, "QT_QPA_PLATFORM=xcb but DISPLAY is unset"),
    ],
)
def test_no_display_suggests_the_offscreen_check(environ: dict[str, str], expected: str) -> None:
    problem = display_problem(environ, system="linux", ldd=fake_ldd(LDD_ICCCM_MISSING))
    assert problem is not None
    assert problem.startswith(expected)
    assert "QT_QPA_PLATFORM=offscreen cxr-explain view --self-test" in problem


@on_linux
@pytest.mark.usefixtures("nothing_loads")
def test_view_prints_one_error_line_and_exits_2_instead_of_qts_abort(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def never(*_args: object, **_kwargs: object) -> int:
        raise AssertionError("the viewer must not start")

    monkeypatch.setattr(app, "run_viewer", never)
    monkeypatch.setattr(platform_check, "run_ldd", fake_ldd(LDD_ICCCM_MISSING))
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["view"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "error: the X11 display needs system libraries that are missing: libxcb-icccm.so.4, "
        "libxcb-keysyms.so.1 - install them with: sudo apt-get install libxcb-icccm4 "
        "libxcb-keysyms1\n"
    )


def test_screenshot_without_self_test_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["view", "--screenshot", "shot.png"]) == 2
    assert capsys.readouterr().err == "error: --screenshot needs --self-test\n"


@on_linux
def test_pysides_xcb_plugin_is_found_and_ldd_reads_it() -> None:
    plugin = pyside_xcb_plugin()
    assert plugin is not None, "PySide6's layout changed: update platform_check.XCB_PLUGIN"
    assert run_ldd(plugin) is not None


@on_linux
def test_every_x11_library_of_the_real_plugin_has_a_package() -> None:
    """A new PySide6 that links another X11/GL library fails here until it has a package (here,
    in the Makefile and in docs/install.md)."""
    plugin = pyside_xcb_plugin()
    assert plugin is not None
    output = run_ldd(plugin)
    assert output is not None
    linked = re.findall(r"^\s*(\S+\.so\.\S+)\s+=>", output, re.MULTILINE)
    display_libraries = {name for name in linked if DISPLAY_LIBRARY.match(name)}
    assert display_libraries - DEBIAN_PACKAGES.keys() == set()


def test_the_makefile_installs_the_same_packages() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    block = re.search(r"^QT_SYSTEM_LIBS :=((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert block is not None
    pairs = dict(pair.split(":") for pair in block.group(1).replace("\\\n", " ").split())
    assert pairs.items() <= DEBIAN_PACKAGES.items()
    # Every X11 library Qt's xcb code links directly is checked by the Makefile too.
    direct = {name for name in DEBIAN_PACKAGES if name.startswith(("libxcb", "libX11", "libxkb"))}
    assert direct <= pairs.keys()
