"""A timer probe that measures how long the GUI event loop goes without running a timer.

A ``QTimer`` fires every ``interval_ms``; any gap between two firings beyond the interval is time
the event loop was blocked (by GUI-thread work, or by a worker thread holding the GIL). Used by the
event-loop benchmark and its test; cheap enough to leave running while a model works.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer

DEFAULT_INTERVAL_MS = 5


@dataclass(frozen=True, slots=True)
class Stall:
    """One gap between timer firings, from ``start`` to ``end`` (``time.perf_counter`` seconds),
    ``ms`` milliseconds longer than the interval."""

    start: float
    end: float
    ms: float


class StallProbe(QObject):
    """Records every gap between firings of a precise timer while running."""

    def __init__(self, interval_ms: int = DEFAULT_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        if interval_ms < 1:
            raise ValueError(f"interval_ms must be at least 1, got {interval_ms}")
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._last: float | None = None
        self.stalls: list[Stall] = []

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        self.stalls = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._on_timer_timeout()  # the gap up to now counts too
        self._last = None

    def max_stall_ms(self, start: float | None = None, end: float | None = None) -> float:
        """The longest stall overlapping ``[start, end]`` (perf_counter seconds; open ends).

        Overlap, not containment: a stall that begins while the model runs and ends after it
        returned (the GUI thread ran the model itself) belongs to both phases."""
        chosen = [
            stall.ms
            for stall in self.stalls
            if (start is None or stall.end >= start) and (end is None or stall.start <= end)
        ]
        return max(chosen, default=0.0)

    @property
    def ticks(self) -> int:
        return len(self.stalls)

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap_ms = (now - self._last) * 1000.0
            self.stalls.append(Stall(self._last, now, max(gap_ms - self.interval_ms, 0.0)))
        self._last = now
