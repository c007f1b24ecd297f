"""Replaying imported same-day chains (`--source chains:PATH`): the days the option-history cache
holds quotes for, the underlying's minutes split from its coarser bars, and the VIX files.

The split (`split_minutes`), documented because every replayed price rests on it: each bar of
L minutes (the shared file's 5) is laid on its L minutes by the path the simulator uses inside a
bar (core/execution.intrabar_price: open, the nearer extreme, the other extreme, close, a third
of the bar each). The path is then anchored to the chain's own spot: at each quote instant the
difference between the chain's spot and the path is measured, interpolated linearly in time
between instants and held flat before the first and after the last, and added to the path. Each
minute's open and close are the anchored path at its start and end, its high and low the path's
extremes inside it (sampled every second), its volume the bar's over L. Every decision of such a
replay records the data source `chains_5min_split` (L minutes: `chains_{L}min_split`).

VIX, the VIX1D open and the daily VIX history come from the VIX files of a folder, as the CSV
world reads them (core/market/vol_indexes.py): the hourly VIX moved by the split SPY minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import Session
from core.market.bars import SessionBars
from core.market.recorded_world import RecordedWorld
from core.market.vol_indexes import VolIndexes, daily_vix_files
from core.options.history import OptionHistory

SAMPLES_PER_MINUTE = 60


@dataclass(frozen=True)
class ChainSource:
    """`chains:PATH[,vix=DIR][,bars=PATH][,pricing=quotes|model]` parsed.

    PATH: a chain file (imported on the fly into a scratch cache) or an imported cache folder.
    vix: the folder of VIX files (default: a chain file's data folder, the parent of its
    `options/` folder; for a cache, ../shared/data). bars: the underlying's bars for a chain
    file (default the data folder's `5min/`). pricing: `quotes` (default) prices options from
    the quotes; `model` from the surface alone, on the same days and minutes (the side by side
    of real and model prices)."""

    path: Path
    vix: Path
    bars: Path | None
    pricing: str

    @staticmethod
    def parse(spec: str) -> ChainSource:
        parts = spec.removeprefix("chains:").split(",")
        path, extra = Path(parts[0]), dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        data = path.parent.parent if path.is_file() and path.parent.name == "options" else Path("../shared/data")
        pricing = extra.get("pricing", "quotes")
        if pricing not in ("quotes", "model"):
            raise ValueError(f"chains source: pricing={pricing!r}, use quotes or model")
        bars = Path(extra["bars"]) if "bars" in extra else (data / "5min" if path.is_file() else None)
        return ChainSource(path, Path(extra.get("vix", str(data))), bars, pricing)


def split_minutes(
    symbol: str, session: Session, bars: pd.DataFrame, anchor_ts: np.ndarray, anchor_spot: np.ndarray
) -> SessionBars:
    """One session's 1-minute bars from its coarser `bars` (time, minutes, open, high, low, close,
    volume), anchored to the spots at `anchor_ts` (module docstring)."""
    bars = bars[(bars["time"] >= session.open) & (bars["time"] < session.close)]
    if bars.empty:
        empty = np.empty(0)
        return SessionBars.checked(symbol, session, empty, empty, empty, empty, empty, empty)
    length = int(bars["minutes"].iloc[0])
    starts = pd.DatetimeIndex(bars["time"]).as_unit("ns").asi8 / 1e9
    o, h, lo, c = (bars[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    # every minute of every bar, SAMPLES_PER_MINUTE + 1 points from its start to its end
    minute = np.arange(length)
    frac = (minute[:, None] + np.arange(SAMPLES_PER_MINUTE + 1)[None, :] / SAMPLES_PER_MINUTE) / length
    first = np.where(c < o, h, lo)
    second = np.where(c < o, lo, h)
    points = np.stack([o, first, second, c], axis=1)  # (bars, 4)
    x = np.clip(frac, 0.0, 1.0) * 3.0
    k = np.minimum(x.astype(int), 2)
    path = points[:, k] + (points[:, k + 1] - points[:, k]) * (x - k)  # (bars, minutes, samples)
    times = starts[:, None, None] + frac[None, :, :] * 60.0 * length
    if anchor_ts.size:
        at_anchor = _path_at(anchor_ts, starts, points, length)
        gap = anchor_spot - at_anchor
        known = np.isfinite(gap)
        if known.any():
            path = path + np.interp(times, anchor_ts[known], gap[known])
    path = path.reshape(-1, SAMPLES_PER_MINUTE + 1)
    minute_starts = (starts[:, None] + 60.0 * minute[None, :]).reshape(-1)
    volume = np.repeat(bars["volume"].to_numpy(float) / length, length)
    return SessionBars.checked(
        symbol,
        session,
        minute_starts,
        np.round(path[:, 0], 4),
        np.round(path.max(axis=1), 4),
        np.round(path.min(axis=1), 4),
        np.round(path[:, -1], 4),
        volume,
    )


def _path_at(ts: np.ndarray, starts: np.ndarray, points: np.ndarray, length: int) -> np.ndarray:
    """The unanchored path at instants `ts` (NaN outside every bar)."""
    i = np.searchsorted(starts, ts, side="right") - 1
    inside = (i >= 0) & (ts < starts[np.maximum(i, 0)] + 60.0 * length)
    j = np.maximum(i, 0)
    x = np.clip((ts - starts[j]) / (60.0 * length), 0.0, 1.0) * 3.0
    k = np.minimum(x.astype(int), 2)
    value = points[j, k] + (points[j, k + 1] - points[j, k]) * (x - k)
    return np.where(inside, value, np.nan)


def open_chains(spec: str, scratch: Path) -> tuple[ChainWorld, ChainSource]:
    """The world a `chains:` source names; a chain file is imported into `scratch` first (its
    refusals printed: a replay never prices from a row the import would refuse)."""
    from core.options.chain_import import import_chains

    source = ChainSource.parse(spec)
    if source.path.is_file():
        if source.bars is None or not source.bars.exists():
            raise ValueError(f"{source.path}: no underlying bars at {source.bars} (chains:FILE,bars=PATH)")
        history = OptionHistory(scratch)
        result = import_chains(history, [source.path], source.bars)
        print(f"chains: {source.path.name}: {result.total.summary()}")
    elif source.path.is_dir():
        history = OptionHistory(source.path)
    else:
        raise ValueError(f"chains:{source.path}: no such file or folder")
    return ChainWorld(history, source.vix), source


class ChainWorld(RecordedWorld):
    """The sessions an option-history cache holds quotes for, with minutes split from the
    underlying bars stored beside them and the VIX of a folder."""

    def __init__(self, history: OptionHistory, vix_folder: Path, symbols: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.history = history
        found = sorted(p.name for p in history.folder.glob("*") if p.is_dir() and history.quote_days(p.name))
        self.symbols = tuple(s for s in (symbols or found) if s in found)
        if not self.symbols:
            raise ValueError(f"{history.folder}: no imported quotes (python -m worker.option_history import-chains)")
        if not vix_folder.is_dir() or not daily_vix_files(vix_folder):
            raise ValueError(f"{vix_folder}: no daily VIX file (VIX_daily*.csv) to price the chain days' VIX from")
        self.indexes = VolIndexes(vix_folder)
        days = [set(history.quote_days(s)) for s in self.symbols]
        self.days = sorted(set.intersection(*days))
        first = history.read_underlying(self.symbols[0], self.days[0]) if self.days else None
        length = int(first["minutes"].iloc[0]) if first is not None and len(first) else 5
        self.bar_source = f"chains_{length}min_split"  # each decision's data source says so

    def _build(self, session: Session, symbol: str) -> SessionBars:
        bars = self.history.read_underlying(symbol, session.day)
        day = self.history.day(symbol, session.day)
        if bars is None or day is None or day.quotes is None:
            raise KeyError(f"no {symbol} quotes or underlying bars on {session.day} in {self.history.folder}")
        q = day.quotes
        spots = np.bincount(q.row_snap, q.row_spot) / np.maximum(np.bincount(q.row_snap), 1)
        return split_minutes(symbol, session, bars, q.times, spots)
