"""One session of 1-minute bars for one symbol, stored as numpy arrays for fast slicing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.calendar import Session

BAR_SECONDS = 60


@dataclass
class SessionBars:
    """Bars of one session; `start` holds each bar's start as epoch seconds (UTC)."""

    symbol: str
    session: Session
    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        n = int(self.start.size)
        self._n = n
        self._first = float(self.start[0]) if n else 0.0
        # A session with every minute present can be indexed by arithmetic instead of a search.
        self._regular = n > 0 and float(self.start[-1]) - self._first == BAR_SECONDS * (n - 1)

    def __len__(self) -> int:
        return self._n

    def completed_count(self, now: datetime) -> int:
        """How many bars have closed by `now` (a bar starting at t closes at t + 60 s)."""
        return self.completed_by(now.timestamp())

    def completed_by(self, epoch_s: float) -> int:
        """`completed_count` for epoch seconds (callers that hold the time as a float already)."""
        ts = epoch_s - BAR_SECONDS
        if self._regular:
            return min(max(int((ts - self._first) // BAR_SECONDS) + 1, 0), self._n)
        return int(np.searchsorted(self.start, ts, side="right"))

    def index_at_or_after(self, moment: datetime) -> int | None:
        """The first bar starting at or after `moment`: the bar whose open is 'the next quote'."""
        return self.index_from(moment.timestamp())

    def index_from(self, ts: float) -> int | None:
        """`index_at_or_after` for epoch seconds."""
        if self._regular:
            i = max(int(-((self._first - ts) // BAR_SECONDS)), 0)
        else:
            i = int(np.searchsorted(self.start, ts, side="left"))
        return i if i < self._n else None

    def bar_time(self, i: int) -> datetime:
        """Bar i's start, timezone-aware (UTC: cheaper to build, compares equal to New York time)."""
        return datetime.fromtimestamp(float(self.start[i]), UTC)

    def replace_after(self, count: int, other: SessionBars) -> SessionBars:
        """Bars 0..count-1 from self, the rest from `other` (for no-lookahead tests)."""

        def cat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate([a[:count], b[count:]])

        return SessionBars(
            self.symbol,
            self.session,
            self.start.copy(),
            cat(self.open, other.open),
            cat(self.high, other.high),
            cat(self.low, other.low),
            cat(self.close, other.close),
            cat(self.volume, other.volume),
        )


def minute_starts(session: Session) -> np.ndarray:
    """Epoch seconds of every regular-hours bar start of a session."""
    first = session.open.timestamp()
    return first + BAR_SECONDS * np.arange(session.minutes, dtype=np.float64)
