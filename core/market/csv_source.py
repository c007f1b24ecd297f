"""Replay of real 1-minute bars and daily VIX from CSV files (the format in ../shared/data).

Bars: `datetime,open,high,low,close,volume` with `datetime` the bar start in America/New_York
wall-clock time, regular hours only. Several files per symbol (named `SYMBOL_...csv`) are merged.
VIX: the daily file named `VIX_daily*.csv` (or `VIX.csv`) with `date,open,high,low,close`; other
volatility files beside it (VIX1D_daily*, VIX_60min*) are not the VIX and are never read as it.
Inside the day VIX starts at that day's open and moves against SPY's return since its first bar,
by the elasticity measured on the daily files (VIX_ELASTICITY): each minute's value uses only
bars already completed, so no bar ever sees the day's close.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import NY, Session, session_for
from core.market.bars import SessionBars

BAR_COLUMNS = ("open", "high", "low", "close", "volume")
# ln(VIX close / VIX open) against ln(SPY close / SPY open), 502 sessions 2024-04..2026-03 in
# ../shared/data: slope -6.45 (correlation -0.69), intercept -0.0098 a session (VIX drifts down
# through the day); see bench/calibrate_options.py --elasticity.
VIX_ELASTICITY = -6.45
VIX_DRIFT_PER_SESSION = -0.0098


def daily_vix_files(folder: Path) -> list[Path]:
    """The daily VIX file(s) in `folder`: `VIX_daily*.csv` or `VIX.csv`, never VIX1D or hourly VIX."""
    return sorted({*folder.glob("VIX_daily*.csv"), *folder.glob("VIX.csv")})


class CsvDataError(ValueError):
    """A CSV that cannot be replayed, with the file and what is wrong."""


def load_bar_csv(path: Path) -> pd.DataFrame:
    """Read one bar file into a frame indexed by tz-aware NY bar start."""
    frame = pd.read_csv(path)
    missing = [c for c in ("datetime", *BAR_COLUMNS) if c not in frame.columns]
    if missing:
        raise CsvDataError(f"{path}: missing columns {missing}; expected datetime,open,high,low,close,volume")
    stamps = pd.to_datetime(frame["datetime"])
    stamps = stamps.dt.tz_localize(NY) if stamps.dt.tz is None else stamps.dt.tz_convert(NY)
    out = frame.loc[:, list(BAR_COLUMNS)].astype(float)
    out.index = pd.DatetimeIndex(stamps, name="datetime")
    return out


class CsvWorld:
    """Sessions of real bars for the symbols found in a folder, plus daily VIX."""

    def __init__(self, folder: str | Path, symbols: tuple[str, ...] = ("SPY", "QQQ")) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CsvDataError(f"{self.folder}: no such folder")
        frames: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            files = sorted(p for p in self.folder.glob(f"{symbol}_*.csv") if "daily" not in p.name.lower())
            if not files:
                continue
            merged = pd.concat([load_bar_csv(p) for p in files])
            if len(files) > 1:  # overlapping files: one bar per time (a repeat inside one file is refused later)
                merged = merged.sort_index(kind="stable")
                merged = merged[~merged.index.duplicated(keep="last")]
            frames[symbol] = merged
        if not frames:
            raise CsvDataError(f"{self.folder}: no bar files named like SPY_*.csv or QQQ_*.csv")
        self.symbols = tuple(frames)
        self._by_day: dict[tuple[date, str], pd.DataFrame] = {}
        for symbol, frame in frames.items():
            for day, part in frame.groupby(frame.index.date):
                self._by_day[(day, symbol)] = part
        self._vix = self._load_vix()
        self._built: dict[tuple[date, str], SessionBars] = {}
        self._vix_paths: dict[date, np.ndarray] = {}
        days = sorted({d for d, _ in self._by_day})
        self.days = [d for d in days if all((d, s) in self._by_day for s in self.symbols)]

    def _load_vix(self) -> pd.DataFrame:
        files = daily_vix_files(self.folder)
        if not files:
            return pd.DataFrame(columns=["open", "close"], dtype=float)
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            raise CsvDataError(f"{self.folder}: more than one daily VIX file ({names}); keep one")
        frame = pd.read_csv(files[0])
        frame.columns = [c.lower() for c in frame.columns]
        if "date" not in frame.columns or not {"open", "close"} <= set(frame.columns):
            raise CsvDataError(f"{files[0]}: a daily VIX file needs date, open and close columns")
        return frame.set_index(pd.to_datetime(frame["date"]).dt.date)[["open", "close"]].astype(float)

    def sessions(self, start: date | None = None, end: date | None = None) -> list[Session]:
        out = []
        for d in self.days:
            if (start is None or d >= start) and (end is None or d <= end):
                session = session_for(d)
                if session is not None:
                    out.append(session)
        return out

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        """One session's checked bars, built once (the market and the broker ask every minute)."""
        key = (session.day, symbol)
        found = self._built.get(key)
        if found is None:
            found = self._build(session, symbol)
            if len(self._built) >= 8:  # a few sessions at a time: replays walk forward
                self._built.pop(next(iter(self._built)))
            self._built[key] = found
        return found

    def _build(self, session: Session, symbol: str) -> SessionBars:
        part = self._by_day.get((session.day, symbol))
        if part is None:
            raise KeyError(f"no {symbol} bars on {session.day} in {self.folder}")
        starts = part.index.as_unit("ns").asi8.astype(np.float64) / 1e9  # epoch seconds, vectorised
        keep = (starts >= session.open.timestamp()) & (starts < session.close.timestamp())
        cols = {c: part[c].to_numpy(dtype=float)[keep] for c in BAR_COLUMNS}
        return SessionBars.checked(
            symbol, session, starts[keep], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"]
        )

    def vix_open(self, day: date) -> float:
        if day in self._vix.index:
            return float(self._vix.loc[day, "open"])
        return float("nan")

    def vix_path(self, session: Session) -> np.ndarray:
        """VIX at the end of each minute: the open, moved with SPY's closes since its first bar."""
        found = self._vix_paths.get(session.day)
        if found is None:
            found = self._vix_paths[session.day] = self._build_vix_path(session)
            if len(self._vix_paths) > 8:
                self._vix_paths.pop(next(iter(self._vix_paths)))
        return found

    def _build_vix_path(self, session: Session) -> np.ndarray:
        start = self.vix_open(session.day)
        if "SPY" not in self.symbols or (session.day, "SPY") not in self._by_day or not np.isfinite(start):
            return np.full(session.minutes, start)
        bars = self.session_bars(session, "SPY")
        minute_of = ((bars.start - session.open.timestamp()) // 60).astype(int)
        closes = np.full(session.minutes, np.nan)
        inside = (minute_of >= 0) & (minute_of < session.minutes)
        closes[minute_of[inside]] = bars.close[inside]
        closes = pd.Series(closes).ffill().to_numpy()  # a missing minute keeps the last close known
        first = float(bars.open[0]) if len(bars) else float("nan")
        ret = np.nan_to_num(np.log(closes / first), nan=0.0)
        elapsed = np.arange(1, session.minutes + 1) / session.minutes
        return start * np.exp(VIX_ELASTICITY * ret + VIX_DRIFT_PER_SESSION * elapsed)

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        if self._vix.empty:
            return np.empty(0)
        before = self._vix[self._vix.index < day]["close"]
        return before.to_numpy(dtype=float)[-count:]
