"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

Every writer of exports, bundles and checkpoints goes through ``atomic_path``: write to a temporary
file in the same folder, fsync it, then ``os.replace`` it over the target. On any failure (disk
full, read-only folder, an exception in the writer) the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync it and move it over ``final``."""
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=final.suffix, dir=final.parent
    )
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(final: Path, text: str) -> Path:
    with atomic_path(final) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return final
