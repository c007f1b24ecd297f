"""Real 0DTE quotes for calibration, each beside the inputs the simulator has at that moment.

Two sources: the Yahoo snapshots in ../shared/data/options (`csv:DIR`), or the quotes a paper or
live worker recorded (`recorded:URL`, see worker/cycle/recorder.py). Each row carries the real bid and
ask and what the simulator would price from: the underlying (on the CSV world's path through the
bar, or the spot the recording cycle used), VIX and the same-day vol index (core/options/day_vol.py)
at that minute, and the minutes left.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calendar import NY, session_for
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.options.pricing import bisect_vols
from core.types import OptionContract

COLUMNS = ["underlying", "time", "strike", "is_call", "bid", "ask", "spot", "vix", "day_vol", "minutes_left"]
MAX_MONEYNESS = 0.03  # |K/S - 1|: the band the product trades in


def from_csv(folder: Path, parity_spot: bool = False) -> pd.DataFrame:
    """The Yahoo 0DTE snapshots, priced against the CSV world the backtests replay.

    The snapshots' times are approximate (to the minute or so), so the bar path's underlying can
    be off by tens of cents from the one the quotes were made at; `parity_spot` takes the
    underlying from the quotes themselves instead (put-call parity, median of the strikes within
    $3), which measures the surface alone."""
    market = SimMarket(CsvWorld(folder))
    frames = []
    for path in sorted((folder / "options").glob("*_0DTE_*.csv")):
        q = pd.read_csv(path)
        q = q[q["is_0dte"] & (q["ask"] > 0)].copy()
        q["underlying"] = q["contractSymbol"].str.extract(r"^([A-Z]+)")[0]
        q["time"] = pd.to_datetime(q["snapshot_approx_et"]).dt.tz_localize(NY)
        q["is_call"] = q["optionType"] == "call"
        frames.append(q)
    if not frames:
        raise SystemExit(f"{folder}/options holds no *_0DTE_*.csv snapshots")
    quotes = pd.concat(frames, ignore_index=True)
    inputs = {}
    for (underlying, t), _ in quotes.groupby(["underlying", "time"]):
        moment = t.to_pydatetime()
        session = session_for(moment.date())
        assert session is not None
        minute = moment.replace(second=0, microsecond=0)
        inputs[(underlying, t)] = (
            market.spot_at(underlying, moment),
            market.vix(minute),
            market.day_vol(minute),
            (session.close - moment).total_seconds() / 60.0,
        )
    keyed = [inputs[(u, t)] for u, t in zip(quotes["underlying"], quotes["time"], strict=True)]
    quotes["spot"], quotes["vix"], quotes["day_vol"], quotes["minutes_left"] = (
        list(col) for col in zip(*keyed, strict=True)
    )
    if parity_spot:
        for key, g in quotes.groupby(["underlying", "time"]):
            quotes.loc[g.index, "spot"] = _parity_spot(g, inputs[key][0])
    return _near_the_money(quotes[COLUMNS])


def from_recorded(url: str) -> pd.DataFrame:
    """The quotes a worker recorded, with the spot its cycle used and the VIX it read that minute."""
    from sqlalchemy import select

    from db.engine import make_engine
    from db.models import OptionQuote
    from worker.offline.recorded import RecordedWorld

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(select(OptionQuote)).mappings().all())
    if rows.empty:
        raise SystemExit(f"{url}: no recorded option quotes (the worker records in paper and live mode)")
    contracts = [OptionContract.from_symbol(c) for c in rows["contract"]]
    rows["strike"] = [c.strike for c in contracts]
    rows["is_call"] = [c.right.value == "call" for c in contracts]
    rows["cycle"] = pd.to_datetime(rows["time"], utc=True)
    rows["time"] = pd.to_datetime(rows["quote_time"], utc=True).dt.tz_convert(NY)
    market = SimMarket(RecordedWorld(engine))
    vix, day_vol, left = [], [], []
    for cycle, moment in zip(rows["cycle"], rows["time"], strict=True):
        stamp = moment.to_pydatetime()
        session = session_for(stamp.date())
        left.append(np.nan if session is None else (session.close - stamp).total_seconds() / 60.0)
        minute = cycle.to_pydatetime().replace(second=0, microsecond=0)
        vix.append(market.vix(minute))
        day_vol.append(market.day_vol(minute))
    rows["vix"], rows["day_vol"], rows["minutes_left"] = vix, day_vol, left
    return _near_the_money(rows[COLUMNS].dropna())


def _parity_spot(g: pd.DataFrame, near: float) -> float:
    """S = K + C - P at the strikes within $3 of `near` (no rates or dividends intraday)."""
    mid = (g["bid"] + g["ask"]) / 2.0
    calls = pd.Series(mid[g["is_call"]].to_numpy(), index=g.loc[g["is_call"], "strike"])
    puts = pd.Series(mid[~g["is_call"]].to_numpy(), index=g.loc[~g["is_call"], "strike"])
    strikes = [k for k in calls.index.intersection(puts.index) if abs(k - near) < 3.0]
    return float(np.median([k + calls[k] - puts[k] for k in strikes])) if strikes else near


def _near_the_money(q: pd.DataFrame) -> pd.DataFrame:
    q = q[(q["strike"] / q["spot"] - 1.0).abs() < MAX_MONEYNESS].copy()
    q["real_mid"] = (q["bid"] + q["ask"]) / 2.0
    q["real_spread"] = q["ask"] - q["bid"]
    q["real_delta"] = implied_delta(q)
    return q.reset_index(drop=True)


def implied_delta(q: pd.DataFrame) -> np.ndarray:
    """Each quote's delta at the volatility its own mid implies (bisection); where the mid is at or
    under intrinsic value no volatility fits and the option counts as all intrinsic (|delta| 1)."""
    spot, strike = q["spot"].to_numpy(float), q["strike"].to_numpy(float)
    left, is_call, mid = q["minutes_left"].to_numpy(float), q["is_call"].to_numpy(bool), q["real_mid"].to_numpy(float)
    _, price, delta = bisect_vols(mid, spot, strike, left, is_call, steps=60)
    fitted = np.abs(price - mid) < 0.005
    return np.where(fitted, delta, np.where(is_call, 1.0, -1.0) * (mid > 0.0))
