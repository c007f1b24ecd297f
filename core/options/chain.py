"""Quotes for one contract or a whole 0DTE chain at a moment, from the surface model.

Strikes follow the listed grid for SPY and QQQ same-day expiries: $1 apart near the money.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from core.options.pricing import bs_price_delta, bs_price_delta_vec
from core.options.surface import (
    DEFAULT_SURFACE,
    SurfaceParams,
    quote_scalar,
    smile_iv,
    spread_ticks,
    surface_for,
    to_bid_ask,
)
from core.types import OptionContract, PriceSource, Quote, Right

STRIKE_STEP = 1.0


@dataclass(frozen=True)
class ChainSnapshot:
    """A chain as arrays (fast to scan) plus the inputs it was priced from."""

    underlying: str
    expiry: date
    time: datetime
    spot: float
    strikes: np.ndarray
    is_call: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    # each quote's own time (epoch seconds; NaN: unknown) and displayed sizes, where the feed has them;
    # None: every quote is as of `time` (the simulator prices them all at that moment)
    quote_times: np.ndarray | None = None
    bid_size: np.ndarray | None = None
    ask_size: np.ndarray | None = None
    sources: tuple[PriceSource, ...] | None = None  # each quote's price source; None: all `source`
    source: PriceSource = PriceSource.MODEL

    def quote(self, i: int) -> Quote:
        right = Right.CALL if self.is_call[i] else Right.PUT
        contract = OptionContract(self.underlying, self.expiry, float(self.strikes[i]), right)
        stamp = self.time
        if self.quote_times is not None:
            t = float(self.quote_times[i])
            stamp = (
                datetime.fromtimestamp(t, UTC).astimezone(self.time.tzinfo)
                if np.isfinite(t)
                else datetime.min.replace(tzinfo=UTC)
            )
        sizes = (
            (0, 0) if self.bid_size is None or self.ask_size is None else (int(self.bid_size[i]), int(self.ask_size[i]))
        )
        return Quote(
            contract,
            float(self.bid[i]),
            float(self.ask[i]),
            stamp,
            float(self.iv[i]),
            float(self.delta[i]),
            *sizes,
            self.sources[i] if self.sources is not None else self.source,
        )


def price_arrays(
    spot: float,
    strikes: np.ndarray,
    is_call: np.ndarray,
    day_vol: float,
    minutes_left: float,
    p: SurfaceParams = DEFAULT_SURFACE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """bid, ask, iv, delta for arrays of strikes and rights (`day_vol`: core/options/day_vol.py)."""
    iv = smile_iv(spot, strikes, day_vol, minutes_left, p)
    mid, delta = bs_price_delta_vec(spot, strikes, max(minutes_left, 0.0), iv, is_call)
    bid, ask = to_bid_ask(mid, spread_ticks(delta, minutes_left, p))
    return bid, ask, iv, delta


def build_chain(
    underlying: str,
    expiry: date,
    time: datetime,
    spot: float,
    day_vol: float,
    minutes_left: float,
    strikes_each_side: int = 12,
    p: SurfaceParams = DEFAULT_SURFACE,
) -> ChainSnapshot:
    """Calls and puts on the $1 grid around the spot."""
    strikes, is_call = chain_grid(spot, strikes_each_side)
    bid, ask, iv, delta = price_arrays(spot, strikes, is_call, day_vol, minutes_left, p)
    return ChainSnapshot(underlying, expiry, time, spot, strikes, is_call, bid, ask, iv, delta)


def chain_grid(spot: float, strikes_each_side: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The strikes and rights `build_chain` lists: calls then puts on the $1 grid around the spot."""
    centre = round(spot / STRIKE_STEP) * STRIKE_STEP
    one_side = centre + STRIKE_STEP * np.arange(-strikes_each_side, strikes_each_side + 1)
    return np.concatenate([one_side, one_side]), np.concatenate(
        [np.ones(one_side.size, bool), np.zeros(one_side.size, bool)]
    )


def chain_of_quotes(underlying: str, expiry: date, time: datetime, spot: float, quotes: list[Quote]) -> ChainSnapshot:
    """A chain from quotes priced one by one (from history), keeping each one's price source."""
    return ChainSnapshot(
        underlying,
        expiry,
        time,
        spot,
        np.array([q.contract.strike for q in quotes]),
        np.array([q.contract.right is Right.CALL for q in quotes]),
        np.array([q.bid for q in quotes]),
        np.array([q.ask for q in quotes]),
        np.array([q.iv for q in quotes]),
        np.array([q.delta for q in quotes]),
        sources=tuple(q.price_source for q in quotes),
    )


def quote_contract(
    contract: OptionContract,
    time: datetime,
    spot: float,
    day_vol: float,
    minutes_left: float,
    p: SurfaceParams = DEFAULT_SURFACE,
) -> Quote:
    """One contract's quote, priced as the chain prices it (tests hold the two paths equal)."""
    bid, ask, iv, delta = quote_scalar(spot, contract.strike, contract.right is Right.CALL, day_vol, minutes_left, p)
    return Quote(contract, bid, ask, time, iv, delta)


def model_value(
    contract: OptionContract, spot: float, day_vol: float, minutes_left: float, iv_bump: float = 0.0
) -> tuple[float, float]:
    """(mid, delta) per share of one contract by its underlying's surface: the IV at its strike
    (skew and smile included), moved by `iv_bump` (0.01: one vol point), then Black-Scholes. The
    console's greeks and the shock grid reprice with it."""
    call = contract.right is Right.CALL
    iv = quote_scalar(spot, contract.strike, call, day_vol, minutes_left, surface_for(contract.underlying))[2]
    return bs_price_delta(spot, contract.strike, max(minutes_left, 0.0), iv + iv_bump, call)
