"""Realized volatility of 5-minute returns: the session's so far and the previous sessions'.

Same-day option prices follow how much the market has been moving, not only the VIX: over the
15 SPY chain days of 2026-07/08 the at-the-money same-day vol ran 0.77-1.08x the trailing five
days' realized vol of 5-minute returns on calm days, against 0.44-0.64x the VIX. The same-day vol
model (core/options/day_vol.py) takes both, measured the same way from 1-minute bars (the
simulator's worlds) and from 5-minute bars (the calibration's chain days):

- the price at each 5-minute mark of the session (09:35, 09:40, ...) is the close of the last
  bar that had ENDED by the mark; the first return runs from the session's first open;
- returns inside a session only (no overnight gap), annualised on trading time: 78 five-minute
  returns a session, 252 sessions a year (the pricing's trading-minute clock);
- at a moment t only the marks at or before t count, and a mark counts only once a bar ending
  at or before it exists: no later bar ever enters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MARK_S = 300.0
RETURNS_PER_YEAR = 252 * 78  # five-minute returns in a trading year
PRIOR_SESSIONS = 5  # the trailing window of earlier sessions


@dataclass(frozen=True)
class SessionMoves:
    """One session's squared 5-minute log returns, by mark, for realized vol at any moment."""

    open_ts: float  # the session's open, epoch seconds
    squares: np.ndarray  # squared log return ending at mark 1, 2, ... (NaN where no price was known)
    first_open: float = math.nan  # the first bar's open, where that bar starts the session
    last_close: float = math.nan  # the session's last close (known once the session is over)

    def so_far(self, ts: float) -> tuple[float, int]:
        """(annualised realized vol, number of returns) from the marks at or before `ts`."""
        done = int(min(max((ts - self.open_ts) // MARK_S, 0), self.squares.size))
        part = self.squares[:done]
        part = part[np.isfinite(part)]
        if part.size == 0:
            return math.nan, 0
        return math.sqrt(float(part.mean()) * RETURNS_PER_YEAR), int(part.size)

    def gap_from(self, previous: SessionMoves | None) -> float:
        """|ln(this session's first open / `previous` session's last close)|: the overnight gap,
        known from the open on; NaN where either price is missing."""
        if previous is None or not (self.first_open > 0.0 and previous.last_close > 0.0):
            return math.nan
        return abs(math.log(self.first_open / previous.last_close))

    def whole(self) -> np.ndarray:
        """Every known squared return of the session."""
        return self.squares[np.isfinite(self.squares)]


def session_moves(
    open_ts: float, close_ts: float, starts: np.ndarray, opens: np.ndarray, closes: np.ndarray, bar_s: float
) -> SessionMoves:
    """The session's squared 5-minute returns from bars of `bar_s` seconds (60 or 300) starting at
    `starts` (epoch seconds); see the module's docstring for the rule."""
    marks = open_ts + MARK_S * np.arange(1, round((close_ts - open_ts) / MARK_S) + 1)
    inside = (starts >= open_ts) & (starts < close_ts) & np.isfinite(closes) & (closes > 0)
    starts, opens, closes = starts[inside], opens[inside], closes[inside]
    if starts.size == 0:
        return SessionMoves(open_ts, np.full(marks.size, np.nan))
    order = np.argsort(starts, kind="stable")
    ends, closes = starts[order] + bar_s, closes[order]
    last = np.searchsorted(ends, marks, side="right") - 1  # the last bar ended by each mark
    prices = np.where(last >= 0, closes[np.clip(last, 0, None)], np.nan)
    first_open = float(opens[order][0]) if starts[order][0] < open_ts + bar_s else math.nan
    before = np.concatenate([[first_open], prices[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        squares = np.log(prices / before) ** 2
    return SessionMoves(open_ts, squares, first_open, float(closes[-1]))


def pooled_vol(sessions: list[SessionMoves]) -> float:
    """Annualised realized vol of all the sessions' 5-minute returns together (NaN: none)."""
    parts = [s.whole() for s in sessions]
    joined = np.concatenate(parts) if parts else np.empty(0)
    return math.sqrt(float(joined.mean()) * RETURNS_PER_YEAR) if joined.size else math.nan
