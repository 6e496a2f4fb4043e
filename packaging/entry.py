"""Entry script of the frozen desktop app (PyInstaller runs this file as ``__main__``).

The same ``cxr-explain`` command as the source install (``viewer.cli:main``), so the bundle has
every subcommand (info, explain, batch, validate, view, ...).
"""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    # Before anything else: a frozen child process started by multiprocessing (spawn start
    # method, e.g. DataLoader workers on macOS and Windows) must run its task, not the app.
    multiprocessing.freeze_support()

    from viewer.cli import main

    sys.exit(main())
