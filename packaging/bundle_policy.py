"""What goes into the desktop bundle, and the size report the build prints.

Imported by ``cxr-explain.spec`` (PyInstaller executes the spec with ``packaging/`` on
``sys.path``) and by the tests, so the rules are plain functions that can be checked without a
build. Nothing here imports PyInstaller.

Why each exclusion is safe is written beside it; every one was checked against the frozen app
(``tests/packaging/test_frozen_app.py`` runs info, explain, bench and the viewer self-test).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Other Qt bindings and GUI toolkits: one binding only (PySide6); pyqtgraph and qasync would
# otherwise let PyInstaller pull in whichever binding happens to be installed.
EXCLUDED_MODULES: tuple[str, ...] = (
    "PyQt5",
    "PyQt6",
    "PySide2",
    "tkinter",
    "_tkinter",
    "matplotlib",
    "IPython",
    "jupyter_client",
    "notebook",
    # Not imported by engine/ or viewer/ (SimpleITK is deliberately not used for DICOM); 264 MB.
    "SimpleITK",
    # Cohort batches on Dask are a research install (`.[cluster]`), not the desktop app's; its
    # `batch --workers` says how to install it.
    "dask",
    "distributed",
    # Test and development tools are not part of the product.
    "pytest",
    "_pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "importlinter",
    "pydicom_data",
    "data_store",
    # torch's TensorBoard writer (tensorboard is not installed). Other torch subpackages stay,
    # however unlikely they look: ``import torch`` reaches torch.testing._internal, and the
    # optimisers in ``cxr-explain train`` reach torch._dynamo, torch._inductor, torch.onnx and
    # sympy.
    "torch.utils.tensorboard",
    "tensorboard",
    # PySide6 modules the viewer does not use (the hook collects only what is imported, but
    # pyqtgraph's optional imports would drag these in).
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.Qt3DCore",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtMultimedia",
    "PySide6.QtDesigner",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtPdf",
    "PySide6.QtNetwork",
)

# Import names (not distributions) that pydicom reaches only at run time: its decoder plugins
# import these lazily, and pylibjpeg finds openjpeg / rle through entry points.
HIDDEN_IMPORTS: tuple[str, ...] = (
    "pylibjpeg",
    "pylibjpeg.utils",
    "openjpeg",
    "openjpeg.utils",
    "rle",
    "rle.utils",
    "gdcm",
    "pydicom.pixels.decoders.gdcm",
    "pydicom.pixels.decoders.pylibjpeg",
    "pydicom.pixels.decoders.pillow",
    "pydicom.pixels.decoders.rle",
    "pydicom.pixels.encoders.pylibjpeg",
    "pydicom.pixels.encoders.native",
)


def subcommand_modules() -> tuple[str, ...]:
    """The CLI's subcommand modules: imported by name at run time, invisible to the analysis."""
    from engine.cli.main import REGISTRY

    return tuple(sorted({entry.module for entry in REGISTRY}))


# Distributions whose metadata must travel: pylibjpeg discovers its codecs through the
# ``pylibjpeg.*`` entry points in these dist-info folders; without them JPEG 2000 and RLE
# silently vanish from the frozen app.
METADATA_DISTRIBUTIONS: tuple[str, ...] = (
    "pylibjpeg",
    "pylibjpeg-openjpeg",
    "pylibjpeg-rle",
    "python-gdcm",
    "pydicom",
)

# Qt platform plugins the product supports on Linux: offscreen (self-test, CI) and xcb (X11 and
# XWayland desktops). PyInstaller's Qt hook collects the platform folder; this list is what the
# tests insist on.
REQUIRED_QT_PLATFORMS: tuple[str, ...] = ("offscreen", "xcb")

# Collected files (destination paths inside the bundle) that nothing in the app loads:
# torch ships C++ unit-test executables, headers, CMake files, static libraries and test-only
# shared libraries in its wheel. torch's hook collects all of them as data. ~200 MB.
DROPPED_FILE_PATTERNS: tuple[str, ...] = (
    "torch/test/*",
    "torch/bin/*",
    "torch/include/*",
    "torch/share/*",
    "torch/lib/*.a",
    "torch/lib/libtorchbind_test.so",
    "torch/lib/libjitbackend_test.so",
    "torch/lib/libaoti_custom_ops.so",
    "torch/lib/libbackend_with_compiler.so",
    "*.pyi",
    "*.cmake",
    # Qt platform plugins for embedded devices and remote screens (framebuffer, EGLFS, VNC,
    # minimal) and what only they link: desktops use xcb or wayland, tests use offscreen.
    "PySide6/Qt/plugins/platforms/libqeglfs.so",
    "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqminimal.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/egldeviceintegrations/*",
    "PySide6/Qt/plugins/generic/*",
    "PySide6/Qt/lib/libQt6EglFS*",
    "PySide6/Qt/lib/libQt6EglFs*",
    "PySide6/Qt/lib/libQt6Network.so*",
)

# Shared libraries shipped with their symbol tables: ``strip --strip-unneeded`` keeps the
# dynamic symbols they are linked through and saves ~110 MB. Only these few, on purpose:
# auditwheel-patched libraries (numpy.libs, scipy.libs, ...) are left alone because strip can
# corrupt files rewritten by patchelf, and they gain little.
STRIPPED_LIBRARIES: tuple[str, ...] = (
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libtorch_python.so",
    "libpython3.*.so*",
)

# Pickle checkpoints are never shipped (the app refuses to open them anyway).
PICKLE_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".ptl")
# A pickle stream of protocol 2..5 starts with PROTO (0x80) and the protocol number.
PICKLE_MAGICS: tuple[bytes, ...] = tuple(bytes((0x80, protocol)) for protocol in range(2, 6))


# Exceptions to the patterns above: ``import torch`` checks that its shared-memory manager
# executable exists (torch/__init__.py, _manager_path) and fails without it.
KEPT_FILES: frozenset[str] = frozenset({"torch/bin/torch_shm_manager"})


def is_dropped(destination: str) -> bool:
    """True for a collected file (bundle-relative POSIX path) that the bundle leaves out."""
    return _dropping_pattern(destination.replace(os.sep, "/")) is not None


def drop_summary(entries: Iterable[tuple[str, str, str]]) -> dict[str, tuple[int, int]]:
    """Per dropping pattern: how many collected files and bytes it removes (for the build log)."""
    summary: dict[str, tuple[int, int]] = {}
    for destination, source, _kind in entries:
        path = destination.replace(os.sep, "/")
        pattern = _dropping_pattern(path)
        if pattern is None:
            continue
        count, size = summary.get(pattern, (0, 0))
        summary[pattern] = (
            count + 1,
            size + (os.path.getsize(source) if os.path.isfile(source) else 0),
        )
    return summary


def _dropping_pattern(path: str) -> str | None:
    if path in KEPT_FILES:
        return None
    if path.lower().endswith(PICKLE_SUFFIXES):
        return "pickle checkpoints"
    return next((p for p in DROPPED_FILE_PATTERNS if fnmatch.fnmatchcase(path, p)), None)


def strip_targets(internal: Path) -> list[Path]:
    """Files under the bundle's ``_internal/`` that the build strips (see STRIPPED_LIBRARIES)."""
    return sorted(
        path
        for pattern in STRIPPED_LIBRARIES
        for path in internal.glob(pattern)
        if path.is_file() and not path.is_symlink()
    )


def filter_toc(entries: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """PyInstaller TOC entries ``(destination, source, type)`` without the dropped files."""
    return [entry for entry in entries if not is_dropped(entry[0])]


class PickleInResourcesError(ValueError):
    """A pickle checkpoint sits in ``resources/``: the build refuses to ship it."""


def resource_datas(resources: Path) -> list[tuple[str, str]]:
    """``(source file, destination folder)`` pairs for everything under ``resources/``.

    Whatever lands in ``resources/models/`` (safetensors + JSON bundles) is picked up without
    editing the spec; the destination mirrors the source tree, which is where
    ``engine.resources.resources_root()`` looks under ``sys._MEIPASS``.
    """
    pairs: list[tuple[str, str]] = []
    for source in sorted(resources.rglob("*")):
        if not source.is_file() or _is_clutter(source.relative_to(resources)):
            continue
        if is_pickle_file(source):
            raise PickleInResourcesError(
                f"{source} is a pickle checkpoint; convert it to a safetensors bundle"
            )
        destination = Path("resources") / source.parent.relative_to(resources)
        pairs.append((str(source), destination.as_posix()))
    return pairs


def _is_clutter(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts)


def is_pickle_file(path: Path) -> bool:
    """True when ``path`` has a pickle checkpoint suffix or starts with a pickle header."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(2) in PICKLE_MAGICS


@dataclass(frozen=True, slots=True)
class SizeEntry:
    """One file or folder of the bundle and its size in bytes."""

    path: str
    size: int


def tree_size(root: Path) -> int:
    """Bytes of all regular files under ``root`` (symbolic links not followed or counted)."""
    return sum(entry.size for entry in _files(root))


def _files(root: Path) -> Iterator[SizeEntry]:
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                yield SizeEntry(path.relative_to(root).as_posix(), path.stat().st_size)


def largest_files(root: Path, count: int = 15) -> list[SizeEntry]:
    """The ``count`` largest files under ``root``, largest first."""
    return sorted(_files(root), key=lambda entry: entry.size, reverse=True)[:count]


def largest_components(root: Path, count: int = 15) -> list[SizeEntry]:
    """The ``count`` largest files/folders one level below the bundle (its packages).

    PyInstaller 6 puts everything but the executable under ``_internal/``; that folder's
    children are what one can add or remove, so they are listed together with the executable.
    """
    totals: dict[str, int] = {}
    for entry in _files(root):
        parts = entry.path.split("/")
        depth = 2 if parts[0] == "_internal" and len(parts) > 1 else 1
        key = "/".join(parts[:depth]) + ("/" if len(parts) > depth else "")
        totals[key] = totals.get(key, 0) + entry.size
    entries = [SizeEntry(path, size) for path, size in totals.items()]
    return sorted(entries, key=lambda entry: entry.size, reverse=True)[:count]


def size_report(root: Path, count: int = 15, goal_mb: float = 900.0) -> str:
    """Human-readable report: total size against the goal, largest components and files."""
    total = tree_size(root)
    verdict = "within" if total <= goal_mb * 1e6 else "OVER"
    lines = [f"bundle {root}: {total / 1e6:.1f} MB ({verdict} the {goal_mb:.0f} MB goal)"]
    for title, entries in (
        (f"{count} largest files/folders of the bundle:", largest_components(root, count)),
        (f"{count} largest files:", largest_files(root, count)),
    ):
        lines.append(title)
        lines += [f"  {entry.size / 1e6:9.1f} MB  {entry.path}" for entry in entries]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(size_report(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/cxr-explain")))
