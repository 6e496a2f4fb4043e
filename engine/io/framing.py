"""Length-prefixed messages between the loader and its decoder process.

Only bytes cross the pipe: a JSON header and a raw pixel buffer. Nothing is unpickled on the
parent's side, so a decoder process that a hostile file took over cannot send code back.
"""

from __future__ import annotations

import struct
from typing import IO, Protocol

_LENGTH = struct.Struct("<Q")


class ProtocolError(Exception):
    """The other side sent a message that breaks the protocol (or went away mid-message)."""


class Channel(Protocol):
    """Both ends of the conversation: whole messages in, whole messages out."""

    def send(self, data: bytes | memoryview) -> None: ...

    def receive(self, max_bytes: int) -> bytes: ...


class StreamChannel:
    """Messages over a pair of binary streams (a subprocess's stdin and stdout)."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer

    def send(self, data: bytes | memoryview) -> None:
        self._writer.write(_LENGTH.pack(len(data)))
        self._writer.write(data)
        self._writer.flush()

    def receive(self, max_bytes: int) -> bytes:
        (length,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size))
        if length > max_bytes:
            raise ProtocolError(f"message of {length} bytes exceeds {max_bytes}")
        return self._read_exactly(length)

    def _read_exactly(self, count: int) -> bytes:
        data = self._reader.read(count)
        if data is None or len(data) != count:
            raise EOFError("the other side closed the pipe")
        return data
