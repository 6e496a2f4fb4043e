"""Structured warnings: what the explanation pipeline warns about, as a code plus its text.

``ExplanationResult.warnings`` holds :class:`EngineWarning` values. Each *is* its one-line text (a
``str``: exports, CSVs and logs print it unchanged) and carries a :class:`WarningCode`, so a caller
decides what a warning means by its code; the viewer never matches English words.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class WarningCode(StrEnum):
    UNCERTAIN_SEGMENTATION = "uncertain-segmentation"
    NO_SEGMENTER = "no-segmenter"
    LITTLE_LUNG_FIELD = "little-lung-field"
    OUT_OF_DISTRIBUTION = "out-of-distribution"
    NOT_A_COUNTERFACTUAL = "not-a-counterfactual"
    INVALID_COUNTERFACTUAL = "invalid-counterfactual"
    ORACLE_DISAGREES = "oracle-disagrees"
    LOW_RESOLUTION = "low-resolution"


#: The codes whose warnings explain an out-of-distribution verdict (which check fired).
OUT_OF_DISTRIBUTION_CODES = frozenset(
    {WarningCode.UNCERTAIN_SEGMENTATION, WarningCode.OUT_OF_DISTRIBUTION}
)


class EngineWarning(str):
    """One warning: the text (this string) and its ``code``."""

    code: WarningCode

    def __new__(cls, code: WarningCode | str, text: str) -> EngineWarning:
        warning = super().__new__(cls, text)
        warning.code = WarningCode(code)
        return warning

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (worker processes) keep the code
        return (EngineWarning, (self.code.value, str(self)))

    def __repr__(self) -> str:
        return f"EngineWarning({self.code.value!r}, {str(self)!r})"


def code_of(warning: str) -> WarningCode | None:
    """The code of a warning, or None for plain text (a loader note, an older result)."""
    return warning.code if isinstance(warning, EngineWarning) else None
