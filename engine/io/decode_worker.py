"""The decoder process: reads DICOM files on the loader's behalf.

Native codecs (OpenJPEG, GDCM, ...) and the header parser are where a hostile file can crash,
hang or exhaust a viewer. This process runs them instead, one request at a time, under an
address-space limit (Linux); the parent (``engine.io.isolation``) enforces the time limit and
turns a crash into a one-line error.

Protocol (``engine.io.framing``): the worker first says ``{"ready": true}``; then the parent sends
one JSON request per file and the reply is a JSON header (on success with the radiograph's
description, ``engine.io.wire``), then the raw float32 modality values. Started as
``python -m engine.io.decode_worker`` (source checkout) or as a multiprocessing child (frozen app).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.io import wire
from engine.io.framing import Channel, StreamChannel
from engine.io.limits import DecodeBudget
from engine.io.loader import load_radiograph
from engine.types import Radiograph

_MAX_REQUEST_BYTES = 1 << 20
TEST_DELAY_ENV = "CXR_EXPLAIN_TEST_DECODER_STARTUP_DELAY"

try:  # POSIX only; Windows has no address-space limit (see SECURITY.md)
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]


def serve(channel: Channel) -> None:
    """Answer requests until the parent closes the channel."""
    # Malformed files make pydicom warn with element values; nobody would read them here, and
    # they must not reach a terminal or log unredacted.
    warnings.simplefilter("ignore")
    # The DICOM reader (pydicom and its codecs) loads before the worker says it is ready, so
    # start-up does not count against a file's time limit. Imported here, not at the top: the
    # frozen app's parent imports this module for ``serve_connection`` and must stay light.
    import engine.io.dicom  # noqa: F401

    startup_delay = float(os.environ.get(TEST_DELAY_ENV, "0") or 0)
    if startup_delay > 0:  # test hook: a slow start (a busy machine) must not cost a decode
        import time

        time.sleep(startup_delay)
    # Imports are done: the parent starts the decode clock only after this (a busy machine can
    # take seconds to start a Python process).
    channel.send(json.dumps({"ready": True}).encode())
    while True:
        try:
            request = json.loads(channel.receive(_MAX_REQUEST_BYTES))
        except (EOFError, OSError):
            return
        header, payload = _handle(request)
        channel.send(json.dumps(header).encode())
        if payload is not None:
            channel.send(payload)


def _handle(request: dict[str, Any]) -> tuple[dict[str, Any], memoryview | None]:
    budget = DecodeBudget(
        max_pixels=int(request["max_pixels"]),
        max_file_bytes=int(request["max_file_bytes"]),
        max_inflated_bytes=int(request["max_inflated_bytes"]),
    )
    memory = int(request["max_memory_bytes"])
    limited = _limit_memory(memory)
    try:
        description, pixels = wire.encode(
            _read(Path(request["path"]), budget, request.get("fault"))
        )
        return {"ok": True, "radiograph": description}, pixels
    except InputError as error:
        return {"ok": False, "error": type(error).__name__, "message": str(error)}, None
    except MemoryError:
        limit = f" ({memory / 2**20:.0f} MB)" if limited else ""
        message = f"could not decode the DICOM pixel data: the decoder ran out of memory{limit}"
        return {"ok": False, "error": "ImageTooLargeError", "message": message}, None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # codecs raise anything (Rust panics are BaseExceptions)
        message = f"could not decode the DICOM pixel data ({type(error).__name__})"
        return {"ok": False, "error": "CorruptFileError", "message": message}, None
    finally:
        _unlimit_memory()


def _read(path: Path, budget: DecodeBudget, fault: str | None) -> Radiograph:
    if fault is not None:
        _inject(fault)
    # In-process here: this process is the isolation.
    return load_radiograph(path, budget, isolate=False)


def _inject(fault: str) -> None:
    """Test hook: misbehave the way a broken codec does (requested by the tests only)."""
    if fault == "segfault":
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    elif fault == "abort":
        os.abort()
    elif fault == "hang":
        import time

        while True:
            time.sleep(1)
    elif fault == "allocate":
        # A codec trusting a hostile length field: 64 GB, touched so it is really needed.
        np.ones(64 * 2**30, dtype=np.uint8)


def _limit_memory(allowance: int) -> bool:
    """Cap the address space at what is mapped now plus ``allowance`` (Linux; elsewhere no-op)."""
    if resource is None or not sys.platform.startswith("linux"):
        return False
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = current + allowance
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        return True
    except (OSError, ValueError):
        return False


def _unlimit_memory() -> None:
    if resource is None or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, ValueError):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def serve_connection(connection: Any) -> None:
    """Entry point as a multiprocessing child (the frozen app): messages over a ``Connection``."""
    from engine.io.isolation import ConnectionChannel

    serve(ConnectionChannel(connection))


def main() -> None:
    """Entry point as ``python -m engine.io.decode_worker``: messages over stdin/stdout."""
    # The protocol gets private copies of stdin/stdout; fds 0 and 1 then point at /dev/null so
    # a codec that prints cannot corrupt a message.
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    serve(StreamChannel(reader, writer))


if __name__ == "__main__":
    main()
