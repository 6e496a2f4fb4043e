"""Entry script of the frozen desktop app (PyInstaller runs this file as ``__main__``).

The same ``cxr-explain`` command as the source install (``viewer.cli:entry``), so the bundle has
every subcommand (info, explain, batch, validate, view, ...).
"""

from __future__ import annotations

import multiprocessing

if __name__ == "__main__":
    # Before anything else: a frozen child process started by multiprocessing (spawn start
    # method, e.g. DataLoader workers on macOS and Windows) must run its task, not the app.
    multiprocessing.freeze_support()

    from viewer.cli import entry

    entry()
