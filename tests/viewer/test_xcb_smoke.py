"""The real viewer on a real X server: what `make run` does, minus the person at the screen.

The rest of the suite runs on Qt's offscreen platform, which needs none of the X11 libraries
that the xcb plugin loads; a missing one aborts `make run` on a fresh Debian. Here the viewer
runs in its own process on xcb against Xvfb, explains the bundled sample with the shipped
models and saves what the X server shows of its window.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

XVFB = shutil.which("Xvfb")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or XVFB is None,
    reason="needs Linux and Xvfb (Debian/Ubuntu package xvfb; `make setup` installs it)",
)

SCREEN = "1920x1080x24"  # larger than the window: nothing of it is cut off
WINDOW_SIZE = (1400, 800)  # viewer.app._self_test resizes the window to this
XVFB_START_TIMEOUT_S = 20.0
VIEWER_TIMEOUT_S = 120.0
# What Qt prints before aborting when its platform plugin cannot load.
QT_ABORT_SIGNS = ("could not load the qt platform plugin", "no qt platform plugin", "aborted")


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A fresh Xvfb server; ``-displayfd`` lets it pick a free display number and tells us."""
    assert XVFB is not None
    log_path = tmp_path / "xvfb.log"
    read_end, write_end = os.pipe()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [XVFB, "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
            pass_fds=(write_end,),
            stdout=log,
            stderr=log,
        )
    os.close(write_end)
    try:
        number = _read_line(read_end, XVFB_START_TIMEOUT_S)
    finally:
        os.close(read_end)
    try:
        if not number:
            pytest.fail(f"Xvfb did not start: {log_path.read_text(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _read_line(fd: int, timeout_s: float) -> str:
    """One line from ``fd``; '' on end of file or timeout. Xvfb writes the number and the newline
    separately and dies when the second write finds the pipe closed: read up to the newline."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def test_viewer_explains_the_sample_on_x11(x_display: str, tmp_path: Path) -> None:
    screenshot = tmp_path / "viewer-xcb.png"
    # The suite runs with QT_QPA_PLATFORM=offscreen (Makefile): the viewer gets its own display.
    env = {k: v for k, v in os.environ.items() if k not in {"WAYLAND_DISPLAY", "XDG_SESSION_TYPE"}}
    env |= {"QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
    command = ["view", "--self-test", "--screenshot", str(screenshot)]
    done = subprocess.run(
        [sys.executable, "-m", "viewer.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=VIEWER_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}; stderr:\n{done.stderr[-4000:]}"
    assert not any(sign in done.stderr.lower() for sign in QT_ABORT_SIGNS), done.stderr
    assert screenshot.is_file()
    with Image.open(screenshot) as image:
        assert image.size == WINDOW_SIZE
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 20, "the window is blank"
    # The original, translated and difference panes share the left ~3/4 of the window; the
    # middle of each shows the radiograph, its counterfactual or their difference (mid-gray
    # where nothing changed). A pane without an image is black there but for a line of text
    # (2 % of the pixels).
    height, width = pixels.shape
    pane_width = int(width * 0.72) // 3
    for index, pane in enumerate(("original", "translated", "difference")):
        left = index * pane_width
        middle = pixels[
            int(height * 0.35) : int(height * 0.65),
            left + pane_width // 5 : left + pane_width * 4 // 5,
        ]
        assert (middle > 40).mean() > 0.5, f"the {pane} pane shows no image"
