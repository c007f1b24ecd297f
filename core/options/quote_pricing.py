"""Option prices from a day's real quotes (whole same-day chains, imported by
`python -m worker.option_history import-chains`), never from a later quote.

For a contract at a moment, its last quote at or before the moment that day decides:

- `real_quote`: that quote is less than `FRESH_S` (a minute) old: served as quoted (bid, ask, its
  own time), as a live feed would show it;
- `quote_anchored`: it is older (the book is sampled every few minutes, or the strike left the
  quoted range): the quote's implied vol (of its mid, at its own spot and time left) is carried
  forward, moved as the model's own vol for the contract moved since (the day-vol index, the
  spot, the time left: the same anchoring as `anchored` for trade bars), priced at the moment's
  spot, with the quote's own width around that mid (its bid and ask from the quote); a quote at
  or under intrinsic value (no implied vol) keeps its time value over intrinsic;
- `model`: the contract has no quote yet that day (or none at all): the surface alone.

A chain is priced as arrays (a replay asks for one every minute; it must run as fast as the
model-priced replay, issue 32), and a single contract through the same arrays, so the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from core.calendar import session_for
from core.options.pricing import bisect_vols, bs_price_delta, bs_price_delta_vec
from core.options.surface import TICK, SurfaceParams, quote_scalar, smile_iv, spread_ticks, to_bid_ask
from core.types import PriceSource

FRESH_S = 60.0
MODEL, REAL, CARRIED = 0, 1, 2
SOURCES = (PriceSource.MODEL, PriceSource.REAL_QUOTE, PriceSource.QUOTE_ANCHORED)


@dataclass(frozen=True)
class DayQuotes:
    """One underlying's checked quotes of one day as arrays, rows in time order.

    `latest[s, c]`: the newest row of contract column `c` at or before snapshot `s` (-1: none)."""

    underlying: str
    day: date
    times: np.ndarray  # each snapshot's instant (epoch seconds), ascending
    row_ts: np.ndarray
    row_spot: np.ndarray
    row_snap: np.ndarray  # the snapshot each row belongs to
    strike: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    iv: np.ndarray  # implied vol of each row's mid at its own spot and time (NaN: none fits)
    minutes_left: np.ndarray  # at each row's time
    columns: dict[tuple[float, bool], int]
    latest: np.ndarray

    @staticmethod
    def of(frame: pd.DataFrame) -> DayQuotes:
        """From a day's file of `quote_checks.QUOTE_COLUMNS` (checked: one row per contract and time)."""
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
        ts = pd.DatetimeIndex(frame["time"]).as_unit("ns").asi8 / 1e9
        day = pd.Timestamp(frame["time"].iloc[0]).date()
        session = session_for(day)
        close = session.close.timestamp() if session is not None else float(ts.max())
        times, snap = np.unique(ts, return_inverse=True)
        strike, is_call = frame["strike"].to_numpy(float), frame["is_call"].to_numpy(bool)
        keys = list(zip(strike.tolist(), is_call.tolist(), strict=True))
        columns: dict[tuple[float, bool], int] = {}
        col = np.array([columns.setdefault(k, len(columns)) for k in keys], dtype=np.int64)
        latest = np.full((times.size, len(columns)), -1, dtype=np.int64)
        latest[snap, col] = np.arange(len(frame))
        latest = np.maximum.accumulate(latest, axis=0)  # rows are in time order: the newest wins
        bid, ask, spot = (frame[c].to_numpy(float) for c in ("bid", "ask", "spot"))
        left = np.maximum((close - ts) / 60.0, 0.0)
        return DayQuotes(
            str(frame["underlying"].iloc[0]),
            day,
            times,
            ts,
            spot,
            snap,
            strike,
            bid,
            ask,
            frame["bid_size"].to_numpy(float),
            frame["ask_size"].to_numpy(float),
            implied_vols((bid + ask) / 2.0, spot, strike, left, is_call),
            left,
            columns,
            latest,
        )

    def rows_at(self, ts: float, strikes: np.ndarray, is_call: np.ndarray) -> np.ndarray:
        """Each contract's newest row at or before `ts` (-1: no quote of it yet that day)."""
        s = int(np.searchsorted(self.times, ts, side="right")) - 1
        if s < 0:
            return np.full(strikes.size, -1, dtype=np.int64)
        cols = np.array(
            [self.columns.get((float(k), bool(c)), -1) for k, c in zip(strikes, is_call, strict=True)], dtype=np.int64
        )
        return np.where(cols >= 0, self.latest[s, np.maximum(cols, 0)], -1)


def implied_vols(
    price: np.ndarray, spot: np.ndarray, strike: np.ndarray, left: np.ndarray, is_call: np.ndarray
) -> np.ndarray:
    """Vectorised implied vol by bisection (0.5% to 500%); NaN where no vol gives the price
    (at or under intrinsic value, above the upper bound, or no time left)."""
    intrinsic = np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
    sigma, value, _ = bisect_vols(price, spot, strike, left, is_call)
    fits = (price > intrinsic + 1e-9) & (left > 0) & (np.abs(value - price) < 1e-3)
    return np.where(fits, sigma, np.nan)


@dataclass(frozen=True)
class QuoteInputs:
    """The market at the moment priced: spot, same-day vol index, minutes left; and the day-vol
    index at any earlier instant (a quote's own time)."""

    ts: float
    spot: float
    day_vol: float
    minutes_left: float
    day_vol_at: object  # Callable[[float], float]


@dataclass(frozen=True)
class PricedQuotes:
    bid: np.ndarray
    ask: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    stamp: np.ndarray  # each price's time: the quote's own where served as quoted, else the moment
    source: np.ndarray  # MODEL, REAL or CARRIED
    bid_size: np.ndarray
    ask_size: np.ndarray


def price_contracts(
    day: DayQuotes,
    model_then: np.ndarray,
    at: QuoteInputs,
    strikes: np.ndarray,
    is_call: np.ndarray,
    surface: SurfaceParams,
) -> PricedQuotes:
    """Price `strikes`/`is_call` at `at` from the day's quotes (module docstring). `model_then`
    (one per row of `day`, NaN until needed) memoises the model's vol at each quote's moment."""
    n = strikes.size
    rows = day.rows_at(at.ts, strikes, is_call)
    has = rows >= 0
    r = np.maximum(rows, 0)
    left = max(at.minutes_left, 0.0)
    model_iv = smile_iv(at.spot, strikes, at.day_vol, left, surface) if n else np.empty(0)
    fresh = has & (at.ts - day.row_ts[r] < FRESH_S)
    carried = has & ~fresh
    _fill_model_then(day, model_then, rows[carried], surface, at)
    iv = np.where(has, day.iv[r], model_iv)
    iv = np.where(carried, day.iv[r] * model_iv / np.where(carried, model_then[r], 1.0), iv)
    price, delta = bs_price_delta_vec(at.spot, strikes, left, np.where(np.isfinite(iv), iv, 1e-6), is_call)
    intrinsic = np.where(is_call, np.maximum(at.spot - strikes, 0.0), np.maximum(strikes - at.spot, 0.0))
    no_iv = ~np.isfinite(iv)
    if no_iv.any():  # at or under intrinsic value: the quote's time value over intrinsic, all delta
        q_intrinsic = np.where(
            is_call, np.maximum(day.row_spot[r] - strikes, 0.0), np.maximum(strikes - day.row_spot[r], 0.0)
        )
        q_mid = (day.bid[r] + day.ask[r]) / 2.0
        price = np.where(no_iv, intrinsic + np.maximum(q_mid - q_intrinsic, 0.0), price)
        itm = np.where(is_call, at.spot > strikes, at.spot < strikes)
        delta = np.where(no_iv, np.where(itm, np.where(is_call, 1.0, -1.0), 0.0), delta)
    width = np.where(
        has, np.maximum(np.round((day.ask[r] - day.bid[r]) / TICK), 1.0), spread_ticks(delta, left, surface)
    )
    bid, ask = to_bid_ask(price, width)
    bid, ask = np.where(fresh, day.bid[r], bid), np.where(fresh, day.ask[r], ask)
    source = np.where(fresh, REAL, np.where(carried, CARRIED, MODEL))
    stamp = np.where(fresh, day.row_ts[r], at.ts)
    zeros = np.zeros(n)
    return PricedQuotes(
        bid,
        ask,
        iv,
        delta,
        stamp,
        source,
        np.where(has, day.bid_size[r], zeros),
        np.where(has, day.ask_size[r], zeros),
    )


def _fill_model_then(
    day: DayQuotes, model_then: np.ndarray, rows: np.ndarray, surface: SurfaceParams, at: QuoteInputs
) -> None:
    """The model's vol of each row's contract at the row's own moment, computed once per row."""
    missing = rows[np.isnan(model_then[rows])] if rows.size else rows
    for s in np.unique(day.row_snap[missing]):
        these = missing[day.row_snap[missing] == s]
        then = float(day.times[s])
        vol_then = float(at.day_vol_at(then))  # type: ignore[operator]
        spot_then = float(day.row_spot[these[0]])
        model_then[these] = smile_iv(spot_then, day.strike[these], vol_then, float(day.minutes_left[these[0]]), surface)


def price_one(
    day: DayQuotes, model_then: np.ndarray, at: QuoteInputs, strike: float, is_call: bool, surface: SurfaceParams
) -> tuple[float, float, float, float, float, int, float, float]:
    """`price_contracts` for one contract in plain floats (positions and the broker's updates ask
    for one contract many times a minute, where numpy's per-call overhead dominates): bid, ask,
    iv, delta, stamp, source, bid size, ask size."""
    s = int(np.searchsorted(day.times, at.ts, side="right")) - 1
    col = day.columns.get((float(strike), bool(is_call)), -1)
    row = int(day.latest[s, col]) if s >= 0 and col >= 0 else -1
    left = max(at.minutes_left, 0.0)
    if row < 0:
        bid, ask, iv, delta = quote_scalar(at.spot, strike, is_call, at.day_vol, left, surface)
        return bid, ask, iv, delta, at.ts, MODEL, 0.0, 0.0
    iv = float(day.iv[row])
    fresh = at.ts - float(day.row_ts[row]) < FRESH_S
    if not fresh:
        if math.isnan(model_then[row]):
            _fill_model_then(day, model_then, np.array([row]), surface, at)
        model_iv = quote_scalar(at.spot, strike, is_call, at.day_vol, left, surface)[2]
        iv = iv * model_iv / float(model_then[row])
    if math.isfinite(iv):
        price, delta = bs_price_delta(at.spot, strike, max(left, 1e-6), max(iv, 1e-6), is_call)
    else:  # at or under intrinsic value: the quote's time value over intrinsic, all delta
        q_spot, q_mid = float(day.row_spot[row]), (float(day.bid[row]) + float(day.ask[row])) / 2.0
        price = _intrinsic(at.spot, strike, is_call) + max(q_mid - _intrinsic(q_spot, strike, is_call), 0.0)
        itm = at.spot > strike if is_call else at.spot < strike
        delta = (1.0 if is_call else -1.0) if itm else 0.0
    sizes = float(day.bid_size[row]), float(day.ask_size[row])
    if fresh:
        return float(day.bid[row]), float(day.ask[row]), iv, delta, float(day.row_ts[row]), REAL, *sizes
    ticks = max(float(round((float(day.ask[row]) - float(day.bid[row])) / TICK)), 1.0)
    bid = max(round(price / TICK - ticks / 2.0) * TICK, 0.0)
    return round(bid, 2), round(bid + ticks * TICK, 2), iv, delta, at.ts, CARRIED, *sizes


def _intrinsic(spot: float, strike: float, is_call: bool) -> float:
    return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
