"""One session of 1-minute bars for one symbol, stored as numpy arrays for fast slicing."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # bars refused where the data entered (start in epoch seconds, why): never in the arrays above
    rejected: tuple[tuple[float, str], ...] = field(default=())

    @staticmethod
    def checked(
        symbol: str,
        session: Session,
        start: np.ndarray,
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
    ) -> SessionBars:
        """Bars from outside (CSV, Alpaca, yfinance, recordings), with the bad ones taken out and
        remembered: zero, negative or missing prices, a high below the low, an open or close outside
        the range, a repeated or out-of-order time. A bad bar never reaches the features."""
        n = int(start.size)
        good = np.isfinite(open_) & np.isfinite(high) & np.isfinite(low) & np.isfinite(close)
        good &= (open_ > 0) & (high > 0) & (low > 0) & (close > 0)
        why = np.where(good, "", "a missing, zero or negative price").astype(object)
        shape = (high >= low) & (open_ >= low - 1e-9) & (open_ <= high + 1e-9) & (close >= low - 1e-9)
        shape &= close <= high + 1e-9
        why = np.where(good & ~shape, "high below low, or open/close outside the bar's range", why)
        good &= shape
        latest = -np.inf
        for i in range(n):  # times must increase strictly: a repeat or a step back is refused
            if not np.isfinite(start[i]) or start[i] <= latest:
                if good[i]:
                    why[i] = "a repeated or out-of-order time"
                good[i] = False
            else:
                latest = start[i] if good[i] else latest
        rejected = tuple((float(start[i]), str(why[i])) for i in range(n) if not good[i])
        keep = good
        return SessionBars(
            symbol,
            session,
            start[keep],
            open_[keep],
            high[keep],
            low[keep],
            close[keep],
            np.nan_to_num(volume[keep], nan=0.0),
            rejected,
        )

    def rejected_since(self, epoch_s: float) -> tuple[float, str] | None:
        """The newest refused bar that started at or after `epoch_s`, if any."""
        found = [r for r in self.rejected if r[0] >= epoch_s]
        return max(found) if found else None

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
