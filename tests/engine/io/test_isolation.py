"""The decoder process: a codec crash, hang or memory blow-up is one line; the next load works."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from engine.errors import CorruptFileError, ImageTooLargeError, InputError, MissingDecoderError
from engine.io import DecodeBudget, isolation, load_radiograph, wire
from engine.resources import sample_radiograph_path
from engine.types import Radiograph

# The bundled sample is lossless JPEG 2000: decoded by a native codec, so by the worker.
SAMPLE = sample_radiograph_path()


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert text
    assert "\n" not in text
    return text


@pytest.fixture
def fault(monkeypatch):
    """``fault("segfault")``: the next decodes in the worker misbehave that way."""

    def _set(kind: str | None) -> None:
        monkeypatch.setattr(isolation, "_test_fault", kind)

    yield _set
    isolation.shutdown()


def _load_ok() -> Radiograph:
    radiograph = load_radiograph(SAMPLE, isolate=True)
    assert radiograph.shape == (1024, 1024)
    return radiograph


def test_isolated_decode_equals_in_process_decode():
    isolated = load_radiograph(SAMPLE, isolate=True)
    in_process = load_radiograph(SAMPLE, isolate=False)
    np.testing.assert_array_equal(isolated.pixels, in_process.pixels)
    assert isolated.warnings == in_process.warnings
    summary = [(p.name, p.center, p.width, p.function) for p in in_process.presets]
    assert [(p.name, p.center, p.width, p.function) for p in isolated.presets] == summary


@pytest.mark.parametrize(("kind", "signal_name"), [("segfault", "SIGSEGV"), ("abort", "SIGABRT")])
def test_a_codec_crash_is_one_line_and_the_next_load_works(fault, kind, signal_name):
    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    fault(kind)
    with pytest.raises(CorruptFileError, match="decoder crashed") as caught:
        load_radiograph(SAMPLE, isolate=True)
    assert signal_name in _one_line(caught.value)
    fault(None)
    _load_ok()


def test_a_hanging_codec_is_stopped_at_the_time_limit(fault):
    fault("hang")
    start = time.monotonic()
    with pytest.raises(CorruptFileError, match=r"within 1 s") as caught:
        load_radiograph(SAMPLE, DecodeBudget(max_decode_seconds=1.0), isolate=True)
    assert time.monotonic() - start < 10
    _one_line(caught.value)
    fault(None)
    _load_ok()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux only")
def test_a_codec_allocating_beyond_the_memory_limit_is_refused(fault):
    fault("allocate")  # 64 GB, far over the 256 MB allowance below
    budget = DecodeBudget(max_decode_memory_bytes=256 * 2**20)
    with pytest.raises(ImageTooLargeError, match="out of memory") as caught:
        load_radiograph(SAMPLE, budget, isolate=True)
    _one_line(caught.value)
    fault(None)
    _load_ok()


def test_frozen_app_launcher_multiprocessing_spawn_also_survives_a_crash(fault, monkeypatch):
    """A frozen app starts workers with multiprocessing ``spawn`` (no ``python -m`` there)."""
    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    isolation.shutdown()
    monkeypatch.setattr(isolation, "_use_multiprocessing", lambda: True)
    fault("segfault")
    with pytest.raises(CorruptFileError, match="decoder crashed"):
        load_radiograph(SAMPLE, isolate=True)
    fault(None)
    _load_ok()


def test_concurrent_loads_each_get_a_worker():
    results: list[object] = []

    def load() -> None:
        try:
            results.append(load_radiograph(SAMPLE, isolate=True).shape)
        except InputError as error:  # pragma: no cover - reported by the assertion
            results.append(error)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [(1024, 1024)] * 3
    assert len(isolation._POOL.idle) <= isolation._MAX_IDLE


def test_worker_errors_keep_their_documented_type():
    """A file the worker refuses keeps its error type across the process boundary."""
    path = get_testdata_file("JPEG2000.dcm")
    budget = DecodeBudget(max_pixels=100)
    with pytest.raises(ImageTooLargeError, match="pixel limit"):
        load_radiograph(path, budget, isolate=True)


def _description(rows: int = 2, columns: int = 3) -> dict:
    """A well-formed reply description (what the worker sends for a small image)."""
    return {
        "presets": [
            {
                "name": "auto",
                "center": 1.5,
                "width": 3.0,
                "function": "LINEAR_EXACT",
                "lut": None,
                "lut_first_mapped": 0,
            }
        ],
        "invert": False,
        "info": {
            "source_format": "dicom",
            "rows": rows,
            "columns": columns,
            "modality": "DX",
            "photometric_interpretation": "MONOCHROME2",
            "transfer_syntax": None,
            "transfer_syntax_uid": None,
            "bits_stored": 12,
            "number_of_frames": 1,
            "spacing": {"row_mm": 0.2, "column_mm": 0.2, "kind": "detector"},
            "view_position": None,
            "manufacturer": None,
        },
        "identity": [["PatientName", "Doe^Jane"]],
        "warnings": [],
    }


_GOOD_PAYLOAD = np.arange(6, dtype="<f4").tobytes()


def _lut(values: list[float]) -> str:
    return base64.b64encode(np.asarray(values, "<f4").tobytes()).decode()


def test_a_reply_with_a_lut_is_accepted():
    description = _broken(lambda d: d["presets"][0].update(lut=_lut([0.0, 5.0, 9.0])))
    preset = wire.decode(description, _GOOD_PAYLOAD, max_pixels=100).presets[0]
    np.testing.assert_array_equal(preset.lut, [0.0, 5.0, 9.0])


def test_a_well_formed_reply_is_accepted():
    radiograph = wire.decode(_description(), _GOOD_PAYLOAD, max_pixels=100)
    assert radiograph.shape == (2, 3)
    assert radiograph.identity.as_dict() == {"PatientName": "Doe^Jane"}
    assert not radiograph.pixels.flags.writeable


def _broken(change) -> dict:
    description = _description()
    change(description)
    return description


@pytest.mark.parametrize(
    ("description", "payload"),
    [
        (_description(), _GOOD_PAYLOAD[:-1]),  # payload length mismatch
        (_description(3, 3), _GOOD_PAYLOAD),  # not the declared size
        (_description(), np.arange(6, dtype="<f8").tobytes()),  # float64, not float32
        (_description(20, 20), np.zeros(400, "<f4").tobytes()),  # over the pixel budget
        (_description(), np.array([0, 1, 2, np.nan, 4, 5], "<f4").tobytes()),  # NaN pixels
        (_broken(lambda d: d["info"].update(rows=-2)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"].update(rows="2")), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"].update(source_format="exe")), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"].pop("modality")), _GOOD_PAYLOAD),
        (_broken(lambda d: d.update(presets=[])), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(center=float("nan"))), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(lut=["1"])), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(function="CUBIC")), _GOOD_PAYLOAD),
        (_broken(lambda d: d.update(invert=1)), _GOOD_PAYLOAD),
        (_broken(lambda d: d.update(identity=[["PatientName"]])), _GOOD_PAYLOAD),
        (_broken(lambda d: d.update(warnings="one")), _GOOD_PAYLOAD),
        ("not an object", _GOOD_PAYLOAD),
        # Values the loader never produces, which would fail later, inside the viewer:
        (_broken(lambda d: d["presets"][0].update(lut_first_mapped=10**400)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(lut=_lut([1.0, np.inf]))), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(lut="not base64!")), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(lut="")), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(center=1e300)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["presets"][0].update(width=0.0)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"]["spacing"].update(row_mm=0.0)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"].update(bits_stored=-5)), _GOOD_PAYLOAD),
        (_broken(lambda d: d["info"].update(number_of_frames=0)), _GOOD_PAYLOAD),
        (_broken(lambda d: d.update(identity=[["PatientName", "x"]] * 65)), _GOOD_PAYLOAD),
    ],
)
def test_a_malformed_reply_is_rejected(description, payload):
    with pytest.raises(ValueError, match=r"\w"):
        wire.decode(description, payload, max_pixels=100)


class _HostileWorker:
    """A worker whose channel answers with whatever the test gives it."""

    def __init__(self, reply: bytes) -> None:
        self.ready, self.broken, self.killed = True, False, False
        self._reply = reply
        self.channel = self

    def send(self, data: bytes) -> None:
        pass

    def receive(self, max_bytes: int) -> bytes:
        return self._reply

    def kill(self) -> None:
        self.killed = self.broken = True

    def exit_status(self) -> int | None:
        return None


@pytest.mark.parametrize(
    "reply",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nesting beyond the JSON parser's recursion limit
        b"\xff\xfe not json",
        json.dumps({"ok": True, "radiograph": {"info": []}}).encode(),
    ],
)
def test_a_worker_sending_garbage_is_killed_and_never_reused(reply):
    worker = _HostileWorker(reply)
    with pytest.raises(CorruptFileError):
        isolation._exchange(worker, b"{}", DecodeBudget())
    assert worker.killed


def test_worker_error_replies_keep_their_type_and_stay_short():
    error = isolation._reply_error(
        {"ok": False, "error": "MissingDecoderError", "message": "JPEG 2000 " * 10**5}
    )
    assert isinstance(error, MissingDecoderError)
    assert len(str(error)) <= 300
    unknown = isolation._reply_error({"ok": False, "error": "SystemExit", "message": "x"})
    assert type(unknown) is CorruptFileError


def test_the_wire_round_trip_keeps_every_field():
    """What the worker encodes, the parent rebuilds: LUT presets, spacing, identity, warnings."""
    from pydicom.data import get_testdata_file

    # A VOI LUT file: its LUT preset must survive the trip bit for bit.
    in_process = load_radiograph(get_testdata_file("vlut_04.dcm"), isolate=False)
    assert any(p.lut is not None for p in in_process.presets)
    description, pixels = wire.encode(in_process)
    rebuilt = wire.decode(json.loads(json.dumps(description)), bytes(pixels), 10**8)
    np.testing.assert_array_equal(rebuilt.pixels, in_process.pixels)
    assert rebuilt.info == in_process.info
    assert rebuilt.identity == in_process.identity
    assert rebuilt.warnings == in_process.warnings
    assert rebuilt.invert == in_process.invert
    for got, want in zip(rebuilt.presets, in_process.presets, strict=True):
        assert (got.name, got.center, got.width, got.function, got.lut_first_mapped) == (
            want.name,
            want.center,
            want.width,
            want.function,
            want.lut_first_mapped,
        )
        if want.lut is None:
            assert got.lut is None
        else:
            np.testing.assert_array_equal(got.lut, want.lut)


def test_isolation_default_follows_the_switch(monkeypatch):
    monkeypatch.setenv(isolation.ENV_SWITCH, "0")
    assert not isolation.isolation_enabled()
    monkeypatch.setenv(isolation.ENV_SWITCH, "1")
    assert isolation.isolation_enabled()
    isolation.set_isolation_default(False)
    try:
        assert not isolation.isolation_enabled()
    finally:
        isolation.set_isolation_default(None)


def test_worker_startup_does_not_count_against_the_decode_time_limit(tmp_path, monkeypatch):
    """A saturated machine can take seconds to start the decoder; the file is not to blame."""
    from pydicom.uid import RLELossless

    from engine.io.decode_worker import TEST_DELAY_ENV
    from engine.testing import fake_dicom

    path = tmp_path / "small_rle.dcm"
    dataset = fake_dicom(np.arange(16 * 24, dtype=np.uint16).reshape(16, 24))
    dataset.compress(RLELossless)
    dataset.save_as(path, enforce_file_format=True)
    isolation.shutdown()
    monkeypatch.setenv(TEST_DELAY_ENV, "2")
    try:
        radiograph = load_radiograph(path, DecodeBudget(max_decode_seconds=1.5), isolate=True)
    finally:
        isolation.shutdown()
    assert radiograph.shape == (16, 24)
