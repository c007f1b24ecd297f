"""A small same-day chain day made in a test, in the format of the shared CBOE chain file: quotes
every 5 minutes (at :MM4:11, as CBOE's book), the underlying's 5-minute bars and a VIX file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.calendar import last_sessions, session_for
from core.market.synthetic import SyntheticWorld
from core.options.pricing import bs_price_delta_vec

DAY = date(2026, 3, 2)
CHAIN_IV = 0.18  # the "real" market's flat implied vol
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_CHAINS = SHARED / "options" / "SPY_0DTE_chains_5min_2026-07-17_2026-08-07_cboe_delayed.parquet"


@dataclass(frozen=True)
class ChainDay:
    chains: Path  # the quote file (parquet)
    bars: Path  # the 5-minute bar CSV
    data: Path  # the folder with the VIX file


def five_minute_bars(day: date = DAY, seed: int = 5) -> pd.DataFrame:
    """The seeded synthetic world's SPY minutes of `day`, as 5-minute bars (New York bar starts)."""
    session = session_for(day)
    assert session is not None
    one = SyntheticWorld(seed).session_bars(session, "SPY")
    stamps = pd.to_datetime(one.start, unit="s", utc=True).tz_convert("America/New_York").tz_localize(None)
    frame = pd.DataFrame(
        {"open": one.open, "high": one.high, "low": one.low, "close": one.close, "volume": one.volume}, index=stamps
    )
    five = frame.resample("5min").agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    return five.dropna().rename_axis("datetime").reset_index()


def chain_quotes(bars: pd.DataFrame, day: date = DAY, iv: float = CHAIN_IV, every: int = 1) -> pd.DataFrame:
    """Quotes of 31 strikes each side at 11 s past minute 4 of each 5-minute bar (every `every`-th
    bar), priced by Black-Scholes at `iv` from the bar's close; a cent or more wide."""
    session = session_for(day)
    assert session is not None
    rows = []
    for i, bar in enumerate(bars.itertuples()):
        if i % every:
            continue
        moment = pd.Timestamp(bar.datetime) + timedelta(minutes=4, seconds=11)
        left = (session.close.replace(tzinfo=None) - moment.to_pydatetime()).total_seconds() / 60.0
        if left <= 0:
            continue
        spot = float(bar.close)
        strikes = np.round(spot) + np.arange(-15, 16, dtype=float)
        for is_call in (True, False):
            calls = np.full(strikes.size, is_call)
            price, _ = bs_price_delta_vec(spot, strikes, left, np.full(strikes.size, iv), calls)
            width = np.where(price > 2.0, 0.05, 0.01)
            bid = np.maximum(np.round(price - width / 2, 2), 0.0)
            for k, b, w in zip(strikes, bid, width, strict=True):
                rows.append(
                    {
                        "quote_time": moment.strftime("%Y-%m-%d %H:%M:%S"),
                        "underlying": "SPY",
                        "spot": spot,
                        "expiry": day.isoformat(),
                        "type": "C" if is_call else "P",
                        "strike": float(k),
                        "bid": float(b),
                        "ask": round(float(b + max(w, 0.01)), 2),
                        "bid_size": 10.0,
                        "ask_size": 12.0,
                    }
                )
    return pd.DataFrame(rows)


def write_chain_day(folder: Path, quotes: pd.DataFrame | None = None, day: date = DAY) -> ChainDay:
    """The chain file, the 5-minute bars and a VIX file in `folder` (quotes: the default chain)."""
    folder.mkdir(parents=True, exist_ok=True)
    bars = five_minute_bars(day)
    bars.to_csv(folder / "SPY_5min.csv", index=False)
    (quotes if quotes is not None else chain_quotes(bars, day)).to_parquet(folder / "chains.parquet", index=False)
    synthetic = SyntheticWorld(5)
    days = [s.day for s in last_sessions(day, 40)]
    vix = [synthetic.vix_open(d) for d in days]
    pd.DataFrame({"date": days, "open": vix, "high": vix, "low": vix, "close": vix}).to_csv(
        folder / "VIX_daily.csv", index=False
    )
    return ChainDay(folder / "chains.parquet", folder / "SPY_5min.csv", folder)
