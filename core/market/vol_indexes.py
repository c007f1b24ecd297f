"""The volatility indexes a folder of history holds: daily VIX, daily VIX1D and the hourly VIX.

Files (the formats in ../shared/data, each optional):
- `VIX_daily*.csv` or `VIX.csv`: date, open, high, low, close (exactly one);
- `VIX1D_daily*.csv`: the same columns for CBOE's one-day index (the open anchors the day's
  same-day vol, core/options/day_vol.py: known at 09:30, unlike the close);
- `VIX_60min*.csv`: datetime (bar start, New York wall clock), open, high, low, close.

The intraday VIX at the end of each minute uses only what was known then: the close of the last
hourly bar that had ended, moved by SPY's return since that hour ended (VIX_ELASTICITY); without
an hourly bar for the day, the daily open moved by SPY's return since its first bar (plus the
average drift). No minute ever sees a later bar or the day's close.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import NY, Session
from core.market.bars import SessionBars

# ln(VIX close / VIX open) against ln(SPY close / SPY open), 502 sessions 2024-04..2026-03 in
# ../shared/data: slope -6.45 (correlation -0.69), intercept -0.0098 a session (VIX drifts down
# through the day); see bench/calibrate_options.py --elasticity.
VIX_ELASTICITY = -6.45
VIX_DRIFT_PER_SESSION = -0.0098
HOUR_S = 3600.0
MAX_HOURLY_GAP_S = 6 * HOUR_S  # an hourly close older than this at the open: no hourly VIX that day


class VolIndexError(ValueError):
    """A volatility index file that cannot be used, with the file and what is wrong."""


def daily_vix_files(folder: Path) -> list[Path]:
    """The daily VIX file(s) in `folder`: `VIX_daily*.csv` or `VIX.csv`, never VIX1D or hourly VIX."""
    return sorted({*folder.glob("VIX_daily*.csv"), *folder.glob("VIX.csv")})


def _read_daily(files: list[Path], what: str) -> pd.DataFrame:
    if not files:
        return pd.DataFrame(columns=["open", "close"], dtype=float)
    if len(files) > 1:
        names = ", ".join(f.name for f in files)
        raise VolIndexError(f"{files[0].parent}: more than one daily {what} file ({names}); keep one")
    frame = pd.read_csv(files[0])
    frame.columns = [c.lower() for c in frame.columns]
    if "date" not in frame.columns or not {"open", "close"} <= set(frame.columns):
        raise VolIndexError(f"{files[0]}: a daily {what} file needs date, open and close columns")
    return frame.set_index(pd.to_datetime(frame["date"]).dt.date)[["open", "close"]].astype(float).sort_index()


def _read_hourly(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Each hourly bar's END (epoch seconds) and close, sorted."""
    if not files:
        return np.empty(0), np.empty(0)
    frames = []
    for path in files:
        frame = pd.read_csv(path)
        frame.columns = [c.lower() for c in frame.columns]
        if "datetime" not in frame.columns or "close" not in frame.columns:
            raise VolIndexError(f"{path}: an hourly VIX file needs datetime and close columns")
        frames.append(frame)
    merged = pd.concat(frames, ignore_index=True)
    stamps = pd.to_datetime(merged["datetime"])
    stamps = stamps.dt.tz_localize(NY) if stamps.dt.tz is None else stamps.dt.tz_convert(NY)
    ends = stamps.astype("int64").to_numpy() / 1e9 + HOUR_S
    closes = merged["close"].to_numpy(float)
    good = np.isfinite(closes) & (closes > 0)
    order = np.argsort(ends[good], kind="stable")
    return ends[good][order], closes[good][order]


class VolIndexes:
    """Daily VIX, daily VIX1D and the hourly VIX of one folder, with the intraday VIX path."""

    def __init__(self, folder: Path) -> None:
        self.vix = _read_daily(daily_vix_files(folder), "VIX")
        self.vix1d = _read_daily(sorted(folder.glob("VIX1D_daily*.csv")), "VIX1D")
        self.hour_ends, self.hour_closes = _read_hourly(sorted(folder.glob("VIX_60min*.csv")))

    def vix_open(self, day: date) -> float:
        return float(self.vix.loc[day, "open"]) if day in self.vix.index else float("nan")

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        if self.vix.empty:
            return np.empty(0)
        return self.vix[self.vix.index < day]["close"].to_numpy(dtype=float)[-count:]

    def vix1d_open(self, day: date) -> float:
        """VIX1D's first print of the session (NaN where the file has no row or a bad one)."""
        if day not in self.vix1d.index:
            return float("nan")
        value = float(self.vix1d.loc[day, "open"])
        return value if value > 0.0 else float("nan")

    def start_of_session(self, session: Session) -> float:
        """The VIX known at the open: the last ended hourly bar's close, else the daily open."""
        ends, closes = self.hour_ends, self.hour_closes
        i = int(np.searchsorted(ends, session.open.timestamp(), side="right")) - 1
        if i >= 0 and session.open.timestamp() - ends[i] < MAX_HOURLY_GAP_S:
            return float(closes[i])
        return self.vix_open(session.day)

    def path(self, session: Session, spy: SessionBars | None) -> np.ndarray:
        """VIX at the end of each minute of the session (see the module's docstring)."""
        minute_ends = session.open.timestamp() + 60.0 * np.arange(1, session.minutes + 1)
        spy_closes = _closes_by_minute(session, spy)
        first_open = float(spy.open[0]) if spy is not None and len(spy) else float("nan")
        hourly = self._hourly_path(session, minute_ends, spy_closes, first_open)
        if hourly is not None:
            return hourly
        start = self.vix_open(session.day)
        if spy_closes is None or not np.isfinite(start):
            return np.full(session.minutes, start)
        ret = np.nan_to_num(np.log(spy_closes / first_open), nan=0.0)
        elapsed = np.arange(1, session.minutes + 1) / session.minutes
        return start * np.exp(VIX_ELASTICITY * ret + VIX_DRIFT_PER_SESSION * elapsed)

    def _hourly_path(
        self, session: Session, minute_ends: np.ndarray, spy_closes: np.ndarray | None, first_open: float
    ) -> np.ndarray | None:
        ends, closes = self.hour_ends, self.hour_closes
        last = np.searchsorted(ends, minute_ends, side="right") - 1
        if ends.size == 0 or last[0] < 0 or session.open.timestamp() - ends[last[0]] >= MAX_HOURLY_GAP_S:
            return None  # no hourly VIX that morning: the daily path
        level = closes[last]
        if spy_closes is None or not np.isfinite(first_open):
            return level
        # SPY when that hour ended: the close of the minute ending then, or the first open before the session
        k = ((ends[last] - session.open.timestamp()) // 60).astype(np.int64) - 1
        spy_then = np.where(k >= 0, spy_closes[np.clip(k, 0, spy_closes.size - 1)], first_open)
        ret = np.nan_to_num(np.log(spy_closes / spy_then), nan=0.0)
        return level * np.exp(VIX_ELASTICITY * ret)


def _closes_by_minute(session: Session, spy: SessionBars | None) -> np.ndarray | None:
    """SPY's close at the end of each minute, a missing minute keeping the last close known."""
    if spy is None or len(spy) == 0:
        return None
    minute_of = ((spy.start - session.open.timestamp()) // 60).astype(int)
    closes = np.full(session.minutes, np.nan)
    inside = (minute_of >= 0) & (minute_of < session.minutes)
    closes[minute_of[inside]] = spy.close[inside]
    return pd.Series(closes).ffill().to_numpy()
