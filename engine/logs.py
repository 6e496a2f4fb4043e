"""Redaction of patient identifiers and file paths from log records, warnings and crash reports.

pydicom's warnings quote element values and file paths ("Invalid value for VR DA: '19450203'",
"... in file /data/DOE_JOHN/1.dcm"); exceptions from codecs and our own debug logs do the same.
Logs end up in terminals, bug reports and crash dialogs, so every record is redacted when it is
created, whatever handler later writes it:

- values of the identifying attributes seen by the loader (``remember_identifiers``);
- anything following a DICOM PS3.15 Annex E attribute (keyword, name or tag) on the same line;
- patient-like strings: person names (``A^B``), dates (``YYYYMMDD``), non-standard UIDs,
  IDs that mix letters with at least four digits, long digit runs, phone-number-like runs;
- file paths (only the file type stays: ``<path>.dcm``; Python sources keep their base name);
- for pydicom records and warnings, every quoted literal.

``install_redaction()`` turns it on for the process (the CLI does, ``engine.cli.main``);
``RedactingFilter`` can be added to a single handler instead.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from engine.phi_keywords import IDENTIFYING_KEYWORDS

REDACTED = "[redacted]"
# Identifiers of the last images loaded, matched exactly (case-insensitive).
_MAX_REMEMBERED = 2048
_MIN_REMEMBERED_LENGTH = 3
_QUOTING_LOGGERS = ("pydicom", "py.warnings")

_remembered: OrderedDict[str, None] = OrderedDict()
_remembered_lock = threading.Lock()
_remembered_pattern: re.Pattern[str] | None = None

_PERSON_NAME = re.compile(r"[^\s'\"=:,;()\[\]]*\^[^\s'\"=:,;()\[\]]*")
_DATE = re.compile(r"(?<!\d)(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")
_ISO_DATE = re.compile(r"(?<!\d)(?:18|19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)")
# DICOM's own UIDs (transfer syntaxes, SOP classes) identify nobody and help diagnose.
_UID = re.compile(r"(?<![\w.])(?!1\.2\.840\.10008\.)\d+(?:\.\d+){4,}(?![\w.])")
_MIXED_ID = re.compile(r"(?<![\w-])[A-Za-z]{1,12}[-_]?\d{4,}[A-Za-z0-9-]*(?![\w-])")
_DIGIT_RUN = re.compile(r"(?<![\w.])\d{7,}(?![\w.])")
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d ()/-]{7,}\d(?![\w.])")
_SOURCE_FILE = re.compile(r"<path>/[\w.-]+\.py")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_SUFFIXES = r"(?:dcm|dicom|dic|ima|raw|png|jpe?g|tiff?|gif|csv|json|txt|log|py)"
# Paths: rooted (/, ~/, ./, ../, C:\, \\server), whose folder names may hold spaces (the last
# component too, up to a known file suffix); or relative with at least two separators.
_PATH = re.compile(
    r"(?<![\w.])(?:[A-Za-z]:[\\/]|\\\\|~[\\/]|\.{1,2}[\\/]|/)(?=[^\s/\\])"
    r"(?:[^\\/\n'\"]*[\\/])*"
    rf"(?:[^\\/\n'\"]*?\.{_SUFFIXES}(?!\w)|[^\s\\/'\",;:()<>|]*)"
    r"|(?<![\w.])[^\s'\"\\/]+[\\/][^\s'\"\\/]+[\\/][^\s'\",;:()<>|]*",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(
    r"(?<![\w.<>/\\])[^\s'\"/\\<>]+\.(dcm|dicom|dic|ima|raw|png|jpe?g|tiff?|gif|csv|json|txt|log)\b",
    re.IGNORECASE,
)


def remember_identifiers(values: Iterable[str]) -> None:
    """Redact these exact strings (and the parts of person names) from now on.

    Called by the loader for every DICOM it reads; the strings stay in this process only (they
    are in its memory anyway while the image is open), the oldest dropped beyond a bound.
    """
    global _remembered_pattern
    with _remembered_lock:
        for value in values:
            for text in (value, *re.split(r"[\^=]", value)):
                key = text.strip().lower()
                if len(key) >= _MIN_REMEMBERED_LENGTH:
                    _remembered[key] = None
                    _remembered.move_to_end(key)
        while len(_remembered) > _MAX_REMEMBERED:
            _remembered.popitem(last=False)
        _remembered_pattern = None  # rebuilt on the next redaction (loading stays cheap)


def forget_identifiers() -> None:
    global _remembered_pattern
    with _remembered_lock:
        _remembered.clear()
        _remembered_pattern = None


def _remembered_regex() -> re.Pattern[str] | None:
    global _remembered_pattern
    with _remembered_lock:
        if _remembered_pattern is None and _remembered:
            # Longest first, so a full name goes before its parts.
            alternatives = sorted(_remembered, key=len, reverse=True)
            _remembered_pattern = re.compile(
                "|".join(re.escape(text) for text in alternatives), re.IGNORECASE
            )
        return _remembered_pattern


@functools.cache
def _attribute_pattern() -> re.Pattern[str]:
    """Annex E attributes by keyword, name or tag; the rest of the line after one is a value."""
    from pydicom.datadict import dictionary_description, tag_for_keyword

    words: list[str] = []
    for keyword in IDENTIFYING_KEYWORDS:
        words.append(re.escape(keyword))
        tag = tag_for_keyword(keyword)
        if tag is None:
            continue
        words.append(re.escape(dictionary_description(tag)))
        group, element = tag >> 16, tag & 0xFFFF
        words.append(rf"\(\s*{group:04X}\s*,\s*{element:04X}\s*\)")
    words.sort(key=len, reverse=True)
    return re.compile(rf"(?i)(?<![\w])({'|'.join(words)})(?![\w])([^\n]*)")


def _path_replacement(match: re.Match[str]) -> str:
    text = match.group(0)
    name = re.split(r"[\\/]", text.rstrip("\\/"))[-1]
    if name.endswith(".py"):
        return f"<path>/{name}"  # our sources and libraries: useful in tracebacks, not private
    suffix = re.search(r"\.[A-Za-z0-9]{1,5}$", name)
    return "<path>" + (suffix.group(0) if suffix else "")


def _quoted_replacement(match: re.Match[str]) -> str:
    literal = match.group(0)
    if _SOURCE_FILE.fullmatch(literal[1:-1]):
        return literal  # a traceback's source file, already reduced to its base name
    return f"'{REDACTED}'"


def redact(text: str, *, quoted: bool = False) -> str:
    """``text`` with identifiers and paths replaced (see the module docstring)."""
    pattern = _remembered_regex()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _attribute_pattern().sub(
        lambda m: m.group(1) + (f" {REDACTED}" if m.group(2).strip() else ""), text
    )
    text = _PATH.sub(_path_replacement, text)
    if quoted:
        text = _QUOTED.sub(_quoted_replacement, text)
    text = _FILE_NAME.sub(lambda m: f"<file>.{m.group(1)}", text)
    text = _PERSON_NAME.sub(REDACTED, text)
    text = _UID.sub("[uid]", text)
    text = _DATE.sub("[date]", text)
    text = _ISO_DATE.sub("[date]", text)
    text = _MIXED_ID.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    return _DIGIT_RUN.sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message (and traceback, stack) by their redacted text, in place."""
    if getattr(record, "_cxr_redacted", False):
        return record
    quoted = record.name.startswith(_QUOTING_LOGGERS)
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not lose the record
        message = f"{record.msg!s} {record.args!r}"
    record.msg = redact(message, quoted=quoted)
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact(
            "".join(traceback.format_exception(*record.exc_info)).rstrip("\n"), quoted=True
        )
    elif record.exc_text:
        record.exc_text = redact(record.exc_text, quoted=True)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    setattr(record, "_cxr_redacted", True)  # noqa: B010 (LogRecord declares no such field)
    return record


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record it passes (it never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False


def install_redaction(*, excepthook: bool = True) -> None:
    """Redact every log record of this process at creation, route warnings through logging,
    and (``excepthook``) print uncaught exceptions redacted. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    # warnings.warn (pydicom's) -> the "py.warnings" logger -> the factory above.
    logging.captureWarnings(True)
    for handler in logging.getLogger().handlers:  # records created before installation
        handler.addFilter(RedactingFilter())
    if excepthook:
        sys.excepthook = _redacting_excepthook
        threading.excepthook = _redacting_thread_excepthook


def _redacting_excepthook(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    text = "".join(traceback.format_exception(kind, error, tb))
    sys.stderr.write(redact(text, quoted=True))


def _redacting_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
    sys.stderr.write(f"Exception in thread {name}:\n" + redact(text, quoted=True))
