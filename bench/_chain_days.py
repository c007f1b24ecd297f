"""Every real same-day chain day in ../shared/data, each quote beside what was known at its minute.

Two sources, read as they are (nothing is imported into the option-history cache):
- options/SPY_0DTE_chains_5min_*.parquet: the whole SPY chain every 5 minutes on 15 days; the
  spot is CBOE's at the quote's instant; SPY's moves come from 5min/ bars;
- options/{SPY,QQQ}_0DTE_snapshots_*.csv: 4 snapshots on 2026-02-11/12; the underlying from
  put-call parity (the snapshot times are approximate); the moves from the 1-minute bars.

Each snapshot carries the same-day vol model's inputs (core/options/day_vol.DayVolInputs) as the
simulator builds them: the hourly VIX known then (moved by SPY since that hour ended), the VIX and
VIX1D opens, SPY's realized 5-minute moves of the five earlier sessions and of the session up to
the snapshot (core/market/realized.py), the overnight gap, the day's events. Quotes crossed, zero or far from the
money are left out with a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench._day_vol_fit import event_terms
from core.calendar import NY, last_sessions, session_for
from core.market.csv_source import CsvWorld
from core.market.realized import PRIOR_SESSIONS, SessionMoves, pooled_vol, session_moves
from core.market.sim_market import SimMarket
from core.market.vol_indexes import VIX_ELASTICITY, VolIndexes
from core.options.day_vol import DayVolInputs
from core.options.events import events_on
from core.options.pricing import bisect_vols

MAX_MONEYNESS = 0.03  # |K/S - 1|: the band the product trades in
CHAINS = "SPY_0DTE_chains_5min_*.parquet"


@dataclass(frozen=True)
class ChainDays:
    """Quotes (one row each) and snapshots (one row per underlying and moment, with its inputs)."""

    quotes: pd.DataFrame
    snapshots: pd.DataFrame
    refused: dict[str, int]
    event_terms: dict[str, float] = field(default_factory=dict)  # from SPY's realized days before the first


def load(folder: Path) -> ChainDays:
    """Every chain day in `folder` (../shared/data layout)."""
    refused: dict[str, int] = {}
    parts = [_cboe_chains(folder, refused), _yahoo_snapshots(folder, refused)]
    quotes = pd.concat([q for q, _ in parts if len(q)], ignore_index=True)
    snaps = pd.concat([s for _, s in parts if len(s)], ignore_index=True)
    quotes = quotes.merge(snaps[["snap", "minutes_left", "spot"]], on="snap")
    far = (quotes["strike"] / quotes["spot"] - 1.0).abs() >= MAX_MONEYNESS
    refused["far from the money"] = int(far.sum())
    quotes = quotes[~far].reset_index(drop=True)
    quotes["real_mid"] = (quotes["bid"] + quotes["ask"]) / 2.0
    quotes["real_spread"] = quotes["ask"] - quotes["bid"]
    quotes["real_iv"], quotes["real_delta"] = implied_iv_delta(quotes)
    daily = sorted(folder.glob("SPY_daily_*.csv"))
    terms = event_terms(pd.read_csv(daily[0]), min(snaps["day"])) if daily else {}
    return ChainDays(quotes, snaps, refused, terms)


def _clean(q: pd.DataFrame, refused: dict[str, int]) -> pd.DataFrame:
    bad = ~((q["bid"] >= 0) & (q["ask"] > 0) & (q["ask"] >= q["bid"]))
    refused["crossed or zero"] = refused.get("crossed or zero", 0) + int(bad.sum())
    return q[~bad]


def _cboe_chains(folder: Path, refused: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = sorted((folder / "options").glob(CHAINS))
    bars5 = sorted((folder / "5min").glob("SPY_5min_*.csv"))
    if not files or not bars5:
        return pd.DataFrame(), pd.DataFrame()
    raw = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    raw = raw[raw["expiry"].astype(str) == pd.to_datetime(raw["quote_time"]).dt.date.astype(str)]
    raw = _clean(raw, refused)
    raw["time"] = pd.to_datetime(raw["quote_time"]).dt.tz_localize(NY)
    raw["snap"] = "SPY " + raw["quote_time"].astype(str)
    bars = pd.read_csv(bars5[0], parse_dates=["datetime"])
    bars["day"] = bars["datetime"].dt.date
    indexes = VolIndexes(folder)
    moves = {d: _moves_5min(g) for d, g in bars.groupby("day")}
    snaps = []
    for (snap, t), g in raw.groupby(["snap", "time"]):
        day = t.date()
        session = session_for(day)
        if session is None or day not in moves:
            continue
        spot = float(g["spot"].iloc[0])
        vix = _hourly_vix(indexes, t.to_pydatetime(), spot, bars[bars["day"] == day])
        before = last_sessions(day - timedelta(days=1), PRIOR_SESSIONS)
        earlier = [moves[s.day] for s in before if s.day in moves]
        rv, n = moves[day].so_far(t.timestamp())
        inputs = DayVolInputs(
            vix,
            indexes.start_of_session(session),
            indexes.vix1d_open(day),
            pooled_vol(earlier),
            rv,
            n,
            events_on(day),
            moves[day].gap_from(moves.get(before[-1].day)),
        )
        snaps.append(_snap_row(snap, "SPY", t, spot, (session.close - t).total_seconds() / 60.0, inputs))
    quotes = pd.DataFrame(
        {
            "snap": raw["snap"],
            "underlying": "SPY",
            "strike": raw["strike"].astype(float),
            "is_call": raw["type"] == "C",
            "bid": raw["bid"].astype(float),
            "ask": raw["ask"].astype(float),
        }
    )
    return quotes, pd.DataFrame(snaps)


def _moves_5min(g: pd.DataFrame) -> SessionMoves:
    session = session_for(g["day"].iloc[0])
    assert session is not None
    starts = g["datetime"].dt.tz_localize(NY).astype("int64").to_numpy() / 1e9
    return session_moves(
        session.open.timestamp(),
        session.close.timestamp(),
        starts,
        g["open"].to_numpy(float),
        g["close"].to_numpy(float),
        300.0,
    )


def _hourly_vix(indexes: VolIndexes, moment: datetime, spot: float, bars: pd.DataFrame) -> float:
    """The close of the last hourly VIX bar ended by `moment`, moved by SPY since it ended (the
    rule of core/market/vol_indexes.py, with SPY from the 5-minute bars and the chain's spot)."""
    i = int(np.searchsorted(indexes.hour_ends, moment.timestamp(), side="right")) - 1
    if i < 0:
        return math.nan
    end = indexes.hour_ends[i]
    starts = bars["datetime"].dt.tz_localize(NY).astype("int64").to_numpy() / 1e9
    ended = np.flatnonzero(starts + 300.0 <= end)
    then = float(bars["close"].iloc[ended[-1]]) if ended.size else float(bars["open"].iloc[0])
    return float(indexes.hour_closes[i] * math.exp(VIX_ELASTICITY * math.log(spot / then)))


def _yahoo_snapshots(folder: Path, refused: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = sorted((folder / "options").glob("*_0DTE_snapshots_*.csv"))
    if not files:
        return pd.DataFrame(), pd.DataFrame()
    market = SimMarket(CsvWorld(folder))
    frames = []
    for path in files:
        q = pd.read_csv(path)
        q = q[q["is_0dte"]].copy()
        q["underlying"] = q["contractSymbol"].str.extract(r"^([A-Z]+)")[0]
        q["time"] = pd.to_datetime(q["snapshot_approx_et"]).dt.tz_localize(NY)
        q["is_call"] = q["optionType"] == "call"
        frames.append(_clean(q, refused))
    raw = pd.concat(frames, ignore_index=True)
    raw["snap"] = raw["underlying"] + " " + raw["snapshot_approx_et"].astype(str)
    snaps = []
    for (snap, underlying, t), g in raw.groupby(["snap", "underlying", "time"]):
        moment = t.to_pydatetime()
        session = session_for(moment.date())
        assert session is not None
        minute = moment.replace(second=0, microsecond=0)
        spot = _parity_spot(g, market.spot_at(underlying, moment))
        inputs = market.day_vol_inputs(session, minute.timestamp(), market.vix(minute))
        snaps.append(_snap_row(snap, underlying, t, spot, (session.close - t).total_seconds() / 60.0, inputs))
    quotes = raw[["snap", "underlying", "strike", "is_call", "bid", "ask"]].astype({"strike": float})
    return quotes, pd.DataFrame(snaps)


def _snap_row(snap: str, underlying: str, t: pd.Timestamp, spot: float, left: float, x: DayVolInputs) -> dict:
    return {
        "snap": snap,
        "underlying": underlying,
        "time": t,
        "day": t.date(),
        "spot": spot,
        "minutes_left": left,
        "inputs": x,
    }


def _parity_spot(g: pd.DataFrame, near: float) -> float:
    """S = K + C - P at the strikes within $3 of `near` (no rates or dividends intraday)."""
    mid = (g["bid"] + g["ask"]) / 2.0
    calls = pd.Series(mid[g["is_call"]].to_numpy(), index=g.loc[g["is_call"], "strike"])
    puts = pd.Series(mid[~g["is_call"]].to_numpy(), index=g.loc[~g["is_call"], "strike"])
    strikes = [k for k in calls.index.intersection(puts.index) if abs(k - near) < 3.0]
    return float(np.median([k + calls[k] - puts[k] for k in strikes])) if strikes else near


def implied_iv_delta(q: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each quote's implied vol (trading-minute clock) and delta at it (bisection); where the mid is
    at or under intrinsic value no vol fits: NaN vol and |delta| 1."""
    spot, strike = q["spot"].to_numpy(float), q["strike"].to_numpy(float)
    left, is_call, mid = q["minutes_left"].to_numpy(float), q["is_call"].to_numpy(bool), q["real_mid"].to_numpy(float)
    sigma, price, delta = bisect_vols(mid, spot, strike, left, is_call)
    fitted = np.abs(price - mid) < 0.005
    return np.where(fitted, sigma, np.nan), np.where(fitted, delta, np.where(is_call, 1.0, -1.0) * (mid > 0.0))


def day_of(moment: datetime) -> date:
    """The New York date of a moment."""
    return moment.astimezone(NY).date()
