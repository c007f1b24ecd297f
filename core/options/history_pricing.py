"""Option quotes from real minute bars where a contract traded, the model anchored to its last real
price where it did not, and the model alone where there is no history.

- `real_bar`: the contract has a bar in the minute of the moment. Its price at the moment is its
  last trade at or before the moment in that minute where the cache has the day's trades, else
  on the bar's path (open at the minute's start, as the underlying's price is; then the nearer
  extreme, the other, the close), the same path the underlying's price follows.
- `anchored`: it traded earlier that day. Its last completed bar's close, at that bar's end, gives
  an implied vol (with the underlying then); that vol is carried forward, moved as the model's own
  vol for the contract moved since (the day-vol index, the time left), and priced now.
- `model`: no real price of it yet that day (or its price implies no volatility): the surface.

The bid and ask are a spread from the calibrated spread model around that price: trade bars say
what traded, not the quote.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.execution import intrabar_price
from core.options.history import ContractBars, ContractTrades, DayBars
from core.options.pricing import bs_price_delta, implied_vol
from core.options.surface import SurfaceParams, bid_ask_scalar, quote_scalar
from core.types import OptionContract, PriceSource, Quote, Right

BAR_S = 60.0


@dataclass(frozen=True)
class MarketAt:
    """What the pricer needs of the market at any epoch second: spot, day-vol index, minutes left."""

    spot: Callable[[float], float]
    day_vol: Callable[[float], float]
    minutes_left: Callable[[float], float]


def history_quote(
    contract: OptionContract,
    moment: datetime,
    day: DayBars,
    market: MarketAt,
    surface: SurfaceParams,
    anchors: dict[tuple[str, int], tuple[float, float]] | None = None,
) -> Quote | None:
    """The contract's quote at `moment` from `day`'s bars (see the module docstring); `anchors`
    keeps each bar's implied vol and the model's vol then (they do not change until the next bar)."""
    ts = moment.timestamp()
    spot, day_vol, left = market.spot(ts), market.day_vol(ts), market.minutes_left(ts)
    if not (math.isfinite(spot) and math.isfinite(day_vol)):
        return None
    is_call = contract.right is Right.CALL
    bars = day.contracts.get(contract.symbol)
    if bars is not None:
        traded = day.trades.get(contract.symbol) if day.trades is not None else None
        price = _real_price(bars, ts, traded)
        if price is not None:
            iv = implied_vol(price, spot, contract.strike, left, is_call)
            return _quote_around(contract, moment, spot, price, iv, left, is_call, surface, PriceSource.REAL_BAR)
        anchored = _anchored_price(bars, ts, contract, market, surface, spot, day_vol, left, anchors)
        if anchored is not None:
            price, iv = anchored
            return _quote_around(contract, moment, spot, price, iv, left, is_call, surface, PriceSource.ANCHORED)
    bid, ask, iv, delta = quote_scalar(spot, contract.strike, is_call, day_vol, left, surface)
    return Quote(contract, bid, ask, moment, iv, delta)


def _real_price(bars: ContractBars, ts: float, trades: ContractTrades | None = None) -> float | None:
    """The contract's real price at `ts` when it has a bar in that minute (None: it has none)."""
    i = bars.index_at(ts)
    if i < 0 or ts - bars.starts[i] >= BAR_S:
        return None
    if trades is not None:
        last = trades.last_at_or_before(ts, float(bars.starts[i]))
        if last is not None:
            return last
    frac = (ts - bars.starts[i]) / BAR_S
    return intrabar_price(float(bars.open[i]), float(bars.high[i]), float(bars.low[i]), float(bars.close[i]), frac)


def _anchored_price(
    bars: ContractBars,
    ts: float,
    contract: OptionContract,
    market: MarketAt,
    surface: SurfaceParams,
    spot: float,
    day_vol: float,
    left: float,
    anchors: dict[tuple[str, int], tuple[float, float]] | None,
) -> tuple[float, float] | None:
    """The last completed bar's implied vol, moved with the model's vol since, priced now."""
    i = bars.index_at(ts - BAR_S)  # bars that ended by `ts`
    if i < 0:
        return None
    is_call = contract.right is Right.CALL
    key = (contract.symbol, int(bars.starts[i]))  # a bar: its contract and start
    found = anchors.get(key) if anchors is not None else None
    if found is None:
        then = float(bars.starts[i]) + BAR_S
        spot_then, vol_then, left_then = market.spot(then), market.day_vol(then), market.minutes_left(then)
        real_iv = implied_vol(float(bars.close[i]), spot_then, contract.strike, left_then, is_call)
        model_then = math.nan
        if math.isfinite(real_iv) and math.isfinite(spot_then) and math.isfinite(vol_then):
            model_then = quote_scalar(spot_then, contract.strike, is_call, vol_then, left_then, surface)[2]
        found = (real_iv, model_then)
        if anchors is not None:
            anchors[key] = found
    real_iv, model_then = found
    if not (math.isfinite(real_iv) and math.isfinite(model_then)):
        return None
    model_now = quote_scalar(spot, contract.strike, is_call, day_vol, left, surface)[2]
    iv_now = real_iv * model_now / model_then
    return bs_price_delta(spot, contract.strike, max(left, 0.0), iv_now, is_call)[0], iv_now


def _quote_around(
    contract: OptionContract,
    moment: datetime,
    spot: float,
    price: float,
    iv: float,
    left: float,
    is_call: bool,
    surface: SurfaceParams,
    source: PriceSource,
) -> Quote:
    """A quote of the calibrated width around a real (or anchored) price at its vol, on the cent grid."""
    if math.isfinite(iv):
        delta = bs_price_delta(spot, contract.strike, max(left, 0.0), iv, is_call)[1]
    else:  # at intrinsic value: all delta
        delta = (1.0 if is_call else -1.0) if (spot > contract.strike) == is_call else 0.0
    bid, ask = bid_ask_scalar(price, delta, left, surface)
    stamp = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return Quote(contract, bid, ask, stamp, iv, delta, 0, 0, source)
