"""Why the viewer cannot open a window, found before Qt aborts on it.

Qt's xcb (X11) platform plugin links system libraries that minimal Linux installations lack.
When one is missing, Qt prints a hint about a library that may well be installed
(libxcb-cursor0) and aborts with a core dump. We ask the dynamic loader instead (``ldd`` on the
plugin: quick, and it follows Qt's own libraries to what they need) and name what is really
missing and the packages that provide it. Qt-free, so the CLI runs it before importing Qt.

The check only diagnoses: whenever it cannot tell (no ``ldd``, no PySide6 folder, an odd
platform setting), it finds nothing and Qt starts, or fails, as it would have.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

# The xcb plugin inside the PySide6 package; PyInstaller bundles keep the same layout.
XCB_PLUGIN: Final = Path("Qt", "plugins", "platforms", "libqxcb.so")

# Debian/Ubuntu package of each system library that PySide6's xcb and offscreen plugins load,
# directly or through Qt's libraries (``ldd``/``readelf -d`` of PySide6 6.11, ``dpkg -S``;
# docs/install.md). The Makefile's QT_SYSTEM_LIBS holds the same pairs.
DEBIAN_PACKAGES: Final[Mapping[str, str]] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libexpat.so.1": "libexpat1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
}

HEADLESS_HINT: Final = (
    "for a headless check run: QT_QPA_PLATFORM=offscreen cxr-explain view --self-test"
)
_LDD_TIMEOUT_S: Final = 10.0
_NOT_FOUND: Final = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)

LddRunner = Callable[[Path], str | None]


def display_problem(
    environ: Mapping[str, str],
    *,
    self_test: bool = False,
    system: str | None = None,
    plugin: Path | None = None,
    ldd: LddRunner | None = None,
) -> str | None:
    """The one-line reason the viewer cannot open a window here, or None when nothing is known
    to stop it. ``self_test``: the viewer defaults to the offscreen platform. ``system``: default
    ``sys.platform``. ``plugin``: the xcb plugin (default: PySide6's). ``ldd``: runs ``ldd`` on a
    library (tests fake it)."""
    if not (system or sys.platform).startswith("linux"):
        return None  # Windows and macOS bring their own platform plugins' dependencies
    forced = environ.get("QT_QPA_PLATFORM", "").strip()
    if not forced and self_test:
        return None  # the self-test runs offscreen (viewer.app.ensure_application)
    platform = forced.split(":", 1)[0].strip()  # "xcb:option=..." passes options to xcb
    has_x11 = bool(environ.get("DISPLAY"))
    if platform == "xcb" and not has_x11:
        return f"QT_QPA_PLATFORM=xcb but DISPLAY is unset - {HEADLESS_HINT}"
    if not platform and not has_x11 and not environ.get("WAYLAND_DISPLAY"):
        return f"no display: DISPLAY and WAYLAND_DISPLAY are unset - {HEADLESS_HINT}"
    # Unforced with both displays set, Qt may pick Wayland and never load xcb: nothing to say.
    if platform == "xcb" or (not platform and not environ.get("WAYLAND_DISPLAY")):
        xcb = plugin if plugin is not None else pyside_xcb_plugin()
        missing = missing_libraries(xcb, ldd=ldd) if xcb is not None else []
        if missing:
            return missing_libraries_message(missing)
    return None


def pyside_xcb_plugin() -> Path | None:
    """PySide6's xcb plugin, found without importing PySide6; None when it is not there."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / XCB_PLUGIN
        if plugin.is_file():
            return plugin
    return None


def missing_libraries(plugin: Path, *, ldd: LddRunner | None = None) -> list[str]:
    """The shared libraries ``plugin`` needs, directly or through others, that cannot be loaded.

    ``ldd`` reports what the loader cannot find on its search path; a library it reports is
    counted only when it is not Qt's own (next to Qt's libraries, found through the plugin's
    RUNPATH) and cannot be opened by name either, so an unusual ``ldd`` never blocks a viewer
    that would have started.
    """
    output = (ldd or run_ldd)(plugin)
    if output is None:
        return []
    qt_lib = plugin.parent.parent.parent / "lib"
    missing: list[str] = []
    for name in _NOT_FOUND.findall(output):
        if name in missing or (qt_lib / name).exists() or loadable(name):
            continue
        missing.append(name)
    return missing


def run_ldd(library: Path) -> str | None:
    """``ldd``'s report on ``library``; None when ``ldd`` is absent, fails or hangs."""
    try:
        result = subprocess.run(
            ["ldd", str(library)],
            capture_output=True,
            text=True,
            timeout=_LDD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def missing_libraries_message(missing: list[str]) -> str:
    """The one-line error for ``missing`` sonames, with the Debian/Ubuntu install command."""
    packages = sorted({DEBIAN_PACKAGES[name] for name in missing if name in DEBIAN_PACKAGES})
    unknown = [name for name in missing if name not in DEBIAN_PACKAGES]
    message = f"the X11 display needs system libraries that are missing: {', '.join(missing)}"
    if packages:
        message += f" - install them with: sudo apt-get install {' '.join(packages)}"
    if unknown:
        message += f" - find the package of {', '.join(unknown)} with: apt-file search NAME"
    return message


def loadable(name: str) -> bool:
    """Whether the dynamic loader opens the library ``name`` (a soname) from this process."""
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True
