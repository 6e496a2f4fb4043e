"""Start-up: the QApplication, the theme, the qasync event loop and the main window."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import pyqtgraph as pg
import qasync
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from engine.api import default_models_dir, prestart_decoder, sample_radiograph_path
from viewer.engine_bridge import engine_explainer
from viewer.explanation import ExplanationProvider
from viewer.main_window import APP_NAME, MainWindow
from viewer.settings import APPLICATION, ORGANIZATION, ViewerSettings
from viewer.theme import apply_dark_theme

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
SELF_TEST_TIMEOUT_S = 60.0


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options; row-major so arrays are (H, W) like everywhere else."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def ensure_application(*, offscreen: bool = False) -> QApplication:
    """The process's QApplication (created once), themed."""
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    if not isinstance(app, QApplication):
        raise RuntimeError("a non-GUI QCoreApplication already exists")
    app.setApplicationDisplayName(APP_NAME)
    configure_pyqtgraph()
    apply_dark_theme(app)
    return app


def run_viewer(
    path: str | None,
    models: str | None = None,
    self_test: bool = False,
    screenshot: str | None = None,
) -> int:
    """Open the viewer on ``path`` (default: the bundled sample); return the exit status.

    ``self_test``: headless (offscreen unless a platform is set), open ``path`` (default: the
    sample) through the worker, render the window once, close, and return 0 when that worked.
    ``screenshot``: with ``self_test``, a PNG file to save what the screen shows of the window to.
    """
    # The DICOM decoder process imports pydicom and the codecs, which takes a while: start it
    # while Qt and the models load, so that opening the first study does not wait for it.
    prestart_decoder()
    app = ensure_application(offscreen=self_test)
    models_dir = Path(models) if models else default_models_dir()
    explainer = _explainer_for(models_dir)
    with tempfile.TemporaryDirectory(prefix="cxr-explain-self-test-") as scratch:
        # The self-test must leave the user's settings alone: it gets a throw-away INI file.
        settings = (
            ViewerSettings.in_file(Path(scratch) / "settings.ini")
            if self_test
            else ViewerSettings.for_user()
        )
        self_test_folder = Path(scratch) if self_test else None
        shot = Path(screenshot) if screenshot else None
        return _run(app, settings, path, self_test_folder, explainer, models_dir, shot)


def _explainer_for(folder: Path) -> ExplanationProvider | None:
    """The engine explainer when the model folder holds a model set, else None (panes say so)."""
    if not (folder / "classifier").is_dir():
        log.warning("no models in %s: explanations are off", folder.name)
        return None
    return engine_explainer(folder)


def _run(
    app: QApplication,
    settings: ViewerSettings,
    path: str | None,
    self_test_folder: Path | None,  # None: the interactive viewer
    explainer: ExplanationProvider | None,
    models_dir: Path,
    screenshot: Path | None = None,
) -> int:
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    # Python's collector only on the GUI thread: a collection triggered on the engine's worker
    # thread would destroy the Qt objects of unreachable cycles there, and Qt crashes when one
    # of their timers fires later.
    collector = GarbageCollector(interval=1.0)
    window = MainWindow(settings, explainer=explainer, models_dir=models_dir)
    previous_hook = sys.excepthook
    sys.excepthook = _slot_exception_hook(window)
    try:
        if self_test_folder is not None:
            return loop.run_until_complete(
                _self_test(window, self_test_folder, screenshot, Path(path) if path else None)
            )
        window.show_window()
        window.session.open_path(str(Path(path) if path else sample_radiograph_path()))
        with loop:
            loop.run_forever()
        return EXIT_OK
    finally:
        sys.excepthook = previous_hook
        window.close()
        window.deleteLater()
        if not loop.is_closed():
            loop.close()
        asyncio.set_event_loop(None)
        collector.timer.stop()
        gc.collect()
        gc.enable()


async def _self_test(
    window: MainWindow, scratch: Path, screenshot: Path | None = None, target: Path | None = None
) -> int:
    """Open ``target`` (default: the sample); with models, wait for its explanation and export it
    as a GIF; save a screenshot when asked."""
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[str] = loop.create_future()
    explained: asyncio.Future[None] = loop.create_future()
    exported: asyncio.Future[str] = loop.create_future()

    def settle(future: asyncio.Future[Any], value: Any) -> None:
        if not future.done():
            future.set_result(value)

    def on_error(message: str) -> None:
        for future in (opened, explained, exported):
            if not future.done():
                future.set_exception(RuntimeError(message))

    window.image_opened.connect(lambda path: settle(opened, path))
    window.explanation_shown.connect(lambda: settle(explained, None))
    window.exported.connect(lambda path: settle(exported, path))
    window.error_reported.connect(on_error)
    window.resize(1400, 800)
    window.show()
    if target is None:
        window.session.open_sample()
    else:
        window.session.open_path(str(target))
    steps: list[tuple[str, asyncio.Future[Any]]] = [("open the image", opened)]
    if window.session.explanations.available:
        steps += [("explain it", explained), ("export the GIF", exported)]
    for name, future in steps:
        if future is exported:
            window.session.exports.export_gif(str(scratch / "self-test.gif"))
        try:
            await asyncio.wait_for(asyncio.shield(future), SELF_TEST_TIMEOUT_S)
        except (RuntimeError, TimeoutError) as error:
            log.error("self-test failed to %s: %s", name, error or "timed out")
            return EXIT_FAILURE
    image = window.grab().toImage()
    if image.isNull() or not window.comparison.original.has_image:
        log.error("self-test failed: nothing was rendered")
        return EXIT_FAILURE
    if exported.done() and Path(exported.result()).stat().st_size == 0:
        log.error("self-test failed: the exported GIF is empty")
        return EXIT_FAILURE
    if screenshot is not None and not _save_screenshot(window, screenshot):
        log.error("self-test failed: cannot save the screenshot to %s", screenshot)
        return EXIT_FAILURE
    log.info(
        "self-test passed (%dx%d window%s)",
        image.width(),
        image.height(),
        ", explanation exported as GIF" if exported.done() else ", no models",
    )
    return EXIT_OK


def _save_screenshot(window: MainWindow, path: Path) -> bool:
    """Save what the screen shows of ``window`` as PNG. Grabbed from the screen, not rendered
    from the widgets (``grab``): on X11 the pixels come back from the X server, so the file
    proves that the platform plugin really drew the window."""
    window.repaint()  # paint and flush now: the last explanation frame may still be pending
    pixmap = window.screen().grabWindow(window.winId())
    return not pixmap.isNull() and pixmap.save(str(path), "PNG")


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


def _slot_exception_hook(window: MainWindow) -> ExceptHook:
    """An excepthook that shows exceptions escaping Qt slots instead of ending the app."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        log.error("unhandled exception in a slot", exc_info=(kind, error, tb))
        window.errors.report_unexpected("Unexpected error", error.with_traceback(tb))

    return hook
