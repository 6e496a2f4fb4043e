"""Read DICOM files in a separate, persistent, limited process.

Why: native codecs are memory-unsafe C/C++ and pydicom parses whatever a file declares; a hostile
file can crash them (segfault), hang them or make them allocate without bound. In the decoder
process that costs a restart and one one-line error, not the viewer. The whole DICOM read runs
there (header, budget checks, codec, modality values, VOI presets); the caller gets a
``Radiograph`` back and never imports pydicom, which also lets a command overlap the read with
its own start-up (``engine.io.loader.start_loading``).

Design: a small pool of persistent workers (starting one costs about half a second of imports,
so a process per file would double the load time of a radiograph); a worker that crashed, hung or
broke the protocol is killed and replaced on the next request. Time limit: a watchdog kills the
worker. Memory limit: ``RLIMIT_AS`` inside the worker on Linux (macOS and Windows get the time
limit and the header budget, not an address-space cap). Workers are started with ``subprocess``
(fork + immediate exec, safe in a threaded Qt process) from a source checkout, and with the
multiprocessing ``spawn`` context in a frozen app (its entry point calls ``freeze_support``).
Nothing is unpickled from a worker: replies are JSON plus raw float32 pixels, every field checked
(``engine.io.wire``).

Isolation is on by default; ``CXR_EXPLAIN_DECODE_ISOLATION=0`` or
``set_isolation_default(False)`` turns it off (the loader then reads DICOM in-process).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import errors, logs
from engine.errors import CorruptFileError, ImageTooLargeError, InputError, MissingDecoderError
from engine.io import wire
from engine.io.framing import Channel, ProtocolError, StreamChannel
from engine.io.limits import DecodeBudget
from engine.types import Radiograph

log = logging.getLogger(__name__)

ENV_SWITCH = "CXR_EXPLAIN_DECODE_ISOLATION"
_MAX_HELLO_BYTES = 64 * 1024
# Starting a worker (Python, numpy, pydicom, codecs) takes a moment on an idle machine and was
# seen to take far longer on a saturated one; it does not count against the decode time limit.
STARTUP_TIMEOUT_S = 180.0
# Idle workers kept for the next request; concurrent callers beyond this get a worker each,
# which is stopped when it is handed back.
_MAX_IDLE = 2
# The error types a worker may name in a reply (anything else becomes CorruptFileError).
_ERROR_TYPES: dict[str, type[InputError]] = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, InputError)
}

_default_enabled: bool | None = None
# Test hook: a fault the next workers inject before decoding ("segfault", "abort", "hang",
# "allocate"); see engine.io.decode_worker._inject.
_test_fault: str | None = None


def isolation_enabled() -> bool:
    """Whether the loader reads DICOM files in the decoder process when the caller does not say."""
    if _default_enabled is not None:
        return _default_enabled
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "off", "false", "no")


def set_isolation_default(enabled: bool | None) -> None:
    """Override the default for this process (None: back to the environment switch)."""
    global _default_enabled
    _default_enabled = enabled


class ConnectionChannel:
    """Messages over a ``multiprocessing`` connection (bytes only, never pickles)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def send(self, data: bytes | memoryview) -> None:
        self._connection.send_bytes(data)

    def receive(self, max_bytes: int) -> bytes:
        data: bytes = self._connection.recv_bytes(max_bytes)
        return data


def _use_multiprocessing() -> bool:
    """A frozen app has no ``python -m``; it relaunches itself through multiprocessing."""
    return bool(getattr(sys, "frozen", False)) or not sys.executable


class _Worker:
    """One decoder process and the channel to it."""

    def __init__(self) -> None:
        self.broken = False
        self.ready = False
        if _use_multiprocessing():
            self._start_multiprocessing()
        else:
            self._start_subprocess()

    def _start_subprocess(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._process: Any = subprocess.Popen(
            [sys.executable, "-m", "engine.io.decode_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # pydicom and codecs quote file content; nobody reads it
            env=env,
        )
        assert self._process.stdout is not None
        assert self._process.stdin is not None
        self.channel: Channel = StreamChannel(self._process.stdout, self._process.stdin)

    def _start_multiprocessing(self) -> None:
        from engine.io.decode_worker import serve_connection

        context = multiprocessing.get_context("spawn")  # never fork a threaded Qt process
        parent, child = context.Pipe()
        self._process = context.Process(target=serve_connection, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self._connection = parent
        self.channel = ConnectionChannel(parent)

    def kill(self) -> None:
        self.broken = True
        with contextlib.suppress(OSError, ValueError):
            self._process.kill()

    def exit_status(self) -> int | None:
        """The worker's exit code (negative: killed by that signal) once it has ended."""
        if isinstance(self._process, subprocess.Popen):
            try:
                return self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                return None
        self._process.join(2.0)
        code: int | None = self._process.exitcode
        return code

    def close(self) -> None:
        """Ask the worker to end (EOF on its request pipe), then make sure it has."""
        pipes: tuple[Any, ...]
        if isinstance(self._process, subprocess.Popen):
            pipes = (self._process.stdin, self._process.stdout)
        else:
            pipes = (self._connection,)
        for pipe in pipes:
            with contextlib.suppress(OSError, ValueError):
                if pipe is not None:
                    pipe.close()
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            if isinstance(self._process, subprocess.Popen):
                self._process.wait(timeout=2.0)
            else:
                self._process.join(2.0)
        if self._process_alive():
            self.kill()
            self.exit_status()  # reap it

    def _process_alive(self) -> bool:
        if isinstance(self._process, subprocess.Popen):
            return self._process.poll() is None
        return bool(self._process.is_alive())


@dataclass
class _Pool:
    idle: list[_Worker]
    lock: threading.Lock

    def take(self) -> _Worker:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return _Worker()

    def give_back(self, worker: _Worker) -> None:
        if not worker.broken:
            with self.lock:
                if len(self.idle) < _MAX_IDLE:
                    self.idle.append(worker)
                    return
        worker.close()

    def shutdown(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.close()


_POOL = _Pool([], threading.Lock())
atexit.register(_POOL.shutdown)


def prestart() -> None:
    """Start a worker now (e.g. while the viewer opens) so the first file does not wait."""
    _POOL.give_back(_POOL.take())


def shutdown() -> None:
    """Stop the idle workers (they are restarted on demand)."""
    _POOL.shutdown()


def read_isolated(path: Path, budget: DecodeBudget) -> Radiograph:
    """Read the DICOM file ``path`` in a worker; errors: ``InputError`` subclasses."""
    request = {
        "path": str(path.resolve()),
        "max_pixels": budget.max_pixels,
        "max_file_bytes": budget.max_file_bytes,
        "max_inflated_bytes": budget.max_inflated_bytes,
        "max_memory_bytes": budget.max_decode_memory_bytes,
        "fault": _test_fault,
    }
    try:
        worker = _POOL.take()
    except OSError as error:  # no executable, no process slots, ...
        log.info("cannot start a decoder process (%s)", type(error).__name__)
        raise MissingDecoderError(
            "the isolated DICOM decoder process could not start; set "
            f"{ENV_SWITCH}=0 to decode in this process"
        ) from None
    try:
        radiograph = _exchange(worker, json.dumps(request).encode(), budget)
    finally:
        _POOL.give_back(worker)
    logs.remember_identifiers(radiograph.identity.values())  # kept out of every log line
    return radiograph


def _wait_until_ready(worker: _Worker) -> None:
    """Wait for a new worker's imports, outside the decode time limit."""
    if worker.ready:
        return
    watchdog = threading.Timer(STARTUP_TIMEOUT_S, worker.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        hello = json.loads(worker.channel.receive(_MAX_HELLO_BYTES))
        if not isinstance(hello, dict) or hello.get("ready") is not True:
            raise ProtocolError("no ready message")
    except (EOFError, OSError, ProtocolError, ValueError) as error:
        worker.kill()
        log.info("decoder process did not start (%s)", type(error).__name__)
        raise MissingDecoderError(
            "the isolated DICOM decoder process could not start; set "
            f"{ENV_SWITCH}=0 to decode in this process"
        ) from None
    finally:
        watchdog.cancel()
    worker.ready = True


def _exchange(worker: _Worker, request: bytes, budget: DecodeBudget) -> Radiograph:
    _wait_until_ready(worker)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        worker.kill()

    watchdog = threading.Timer(budget.max_decode_seconds, expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        worker.channel.send(request)
        header = json.loads(worker.channel.receive(wire.MAX_DESCRIPTION_BYTES))
        if not isinstance(header, dict):
            raise ProtocolError("reply is not an object")
        if not header.get("ok"):
            raise _reply_error(header)
        payload = worker.channel.receive(wire.payload_limit(budget.max_pixels))
    except InputError:
        raise
    except Exception as error:  # a dead, hung or hostile worker: EOF, bad JSON, nesting, ...
        worker.kill()
        raise _failure(worker, timed_out.is_set(), budget, error) from None
    finally:
        watchdog.cancel()
    try:
        return wire.decode(header.get("radiograph"), payload, budget.max_pixels)
    except Exception as error:  # ValueError by contract; anything else is as malformed
        worker.kill()
        raise CorruptFileError(
            "could not read the DICOM file: the decoder's reply is malformed"
        ) from error


def _reply_error(header: dict[str, Any]) -> InputError:
    cls = _ERROR_TYPES.get(str(header.get("error")), CorruptFileError)
    message = " ".join(str(header.get("message", ""))[:1000].split())[:300]
    return cls(message or "could not decode the DICOM pixel data")


def _failure(
    worker: _Worker, timed_out: bool, budget: DecodeBudget, error: Exception
) -> InputError:
    """The one-line error for a worker that died, hung or broke the protocol."""
    if timed_out:
        return CorruptFileError(
            f"could not decode the DICOM pixel data within {budget.max_decode_seconds:g} s "
            "(decoder stopped)"
        )
    status = worker.exit_status()
    log.info("decoder process failed (%s, exit status %s)", type(error).__name__, status)
    if status is not None and status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        if name == "SIGKILL":  # the kernel's out-of-memory killer, or an operator
            return ImageTooLargeError(
                "could not decode the DICOM pixel data: the decoder was killed (out of memory?)"
            )
        return CorruptFileError(
            f"could not decode the DICOM pixel data: the decoder crashed ({name})"
        )
    return CorruptFileError("could not decode the DICOM pixel data: the decoder stopped")
