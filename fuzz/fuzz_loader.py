"""Coverage-guided fuzzing of ``engine.io.load_radiograph`` with atheris (libFuzzer).

Contract under test: for any bytes, the loader returns a ``Radiograph`` or raises an
``InputError`` subclass; any other exception is an *escape* (a bug), a signal is a *crash*.
Codecs run in this process (``isolate=False``) so their crashes are seen, not absorbed by the
decoder process, and their Python wrappers are covered.

Setup and run (see docs/fuzzing.md for the recorded result)::

    .venv/bin/pip install -e ".[fuzz]"          # atheris
    .venv/bin/python fuzz/make_seed_corpus.py   # -> build/fuzz/corpus
    nice -n 15 .venv/bin/python fuzz/fuzz_loader.py build/fuzz/corpus \\
        -runs=50000 -max_len=65536 -timeout=20 -rss_limit_mb=3072 -print_final_stats=1

libFuzzer flags follow the corpus folder. ``FUZZ_KEEP_GOING=1`` logs escapes to
``build/fuzz/escapes.log`` and continues instead of stopping at the first.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["engine", "pydicom", "PIL"]):
    from engine.errors import InputError
    from engine.io import DecodeBudget, load_radiograph

# Small limits keep each execution fast; the limits themselves are tested in the suite.
BUDGET = DecodeBudget(max_pixels=4 * 2**20, max_file_bytes=2**20, max_inflated_bytes=16 * 2**20)
KEEP_GOING = os.environ.get("FUZZ_KEEP_GOING") == "1"
ESCAPE_LOG = Path("build/fuzz/escapes.log")

_SHM = "/dev/shm" if Path("/dev/shm").is_dir() else None  # a RAM disk: one write per execution
_folder = Path(tempfile.mkdtemp(prefix="cxr-fuzz-", dir=_SHM))
_input = _folder / "input.bin"
_escapes = 0


def test_one_input(data: bytes) -> None:
    global _escapes
    _input.write_bytes(data)
    try:
        radiograph = load_radiograph(_input, BUDGET, isolate=False)
    except InputError as error:
        message = str(error)
        if not message or "\n" in message:
            raise AssertionError(f"error message is not one line: {message!r}") from error
        return
    except Exception:
        if not KEEP_GOING:
            raise
        _escapes += 1
        ESCAPE_LOG.parent.mkdir(parents=True, exist_ok=True)
        with ESCAPE_LOG.open("a") as log:
            log.write(f"--- escape {_escapes} ({len(data)} bytes: {data[:64]!r})\n")
            log.write(traceback.format_exc())
        return
    if radiograph.pixels.ndim != 2:
        raise AssertionError(f"pixels of shape {radiograph.pixels.shape}")


def main() -> None:
    warnings.simplefilter("ignore")  # pydicom warns on nearly every mutated file
    logging.disable(logging.CRITICAL)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
