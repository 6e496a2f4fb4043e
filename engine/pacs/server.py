"""Where a PACS is: a DIMSE endpoint (host, port, AE titles) or a DICOMweb base URL."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InputError

#: Our AE title unless the user names another (at most 16 characters, PS3.5 6.2).
DEFAULT_CALLING_AET = "CXREXPLAIN"
DEFAULT_TIMEOUT_S = 10.0


def _check_aet(name: str, value: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= 16 or "\\" in text or not text.isprintable():
        raise InputError(f"{name} must be 1-16 printable characters, got {value!r}")
    return text


@dataclass(frozen=True, slots=True)
class DimseServer:
    """A DICOM service: ``host:port``, the title it answers to and the one we call from."""

    host: str
    port: int
    called_aet: str
    calling_aet: str = DEFAULT_CALLING_AET
    timeout_s: float = DEFAULT_TIMEOUT_S

    def __post_init__(self) -> None:
        if not self.host:
            raise InputError("the PACS host is empty")
        if not 1 <= self.port <= 65535:
            raise InputError(f"the PACS port must be 1-65535, got {self.port}")
        object.__setattr__(self, "called_aet", _check_aet("--called-aet", self.called_aet))
        object.__setattr__(self, "calling_aet", _check_aet("--aet", self.calling_aet))
        if not self.timeout_s > 0:
            raise InputError(f"the timeout must be positive, got {self.timeout_s}")

    @property
    def label(self) -> str:
        return f"{self.called_aet}@{self.host}:{self.port}"

    @classmethod
    def parse(
        cls, address: str, called_aet: str, calling_aet: str = DEFAULT_CALLING_AET, **options: float
    ) -> DimseServer:
        """``address``: ``HOST:PORT`` (``[v6 address]:PORT`` for IPv6)."""
        host, separator, port = address.rpartition(":")
        if not separator or not port.isdigit():
            raise InputError(f"--server must be HOST:PORT, got {address!r}")
        return cls(host.strip("[]"), int(port), called_aet, calling_aet, **options)
