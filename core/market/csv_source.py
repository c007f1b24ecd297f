"""Replay of real 1-minute bars and the volatility indexes from CSV files (the format in ../shared/data).

Bars: `datetime,open,high,low,close,volume` with `datetime` the bar start in America/New_York
wall-clock time, regular hours only. Several files per symbol (named `SYMBOL_...csv`) are merged.
VIX, VIX1D and the hourly VIX beside them are read by `core/market/vol_indexes.py` (which also
builds the intraday VIX from only what was known at each minute).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import NY, Session
from core.market.bars import SessionBars
from core.market.recorded_world import RecordedWorld
from core.market.vol_indexes import VolIndexError, VolIndexes

BAR_COLUMNS = ("open", "high", "low", "close", "volume")


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


class CsvWorld(RecordedWorld):
    """Sessions of real bars for the symbols found in a folder, plus daily VIX."""

    def __init__(self, folder: str | Path, symbols: tuple[str, ...] = ("SPY", "QQQ")) -> None:
        super().__init__()
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
        try:
            self.indexes = VolIndexes(self.folder)
        except VolIndexError as exc:
            raise CsvDataError(str(exc)) from exc
        days = sorted({d for d, _ in self._by_day})
        self.days = [d for d in days if all((d, s) in self._by_day for s in self.symbols)]

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

    def _has_spy(self, session: Session) -> bool:
        return "SPY" in self.symbols and (session.day, "SPY") in self._by_day
