"""Position sizing by risk per trade, and contract selection by target delta."""

from __future__ import annotations

import math

import numpy as np

from core.options.chain import ChainSnapshot
from core.params import TradingParams
from core.types import Quote

CONTRACT_MULTIPLIER = 100


def contracts_for(equity: float, ask: float, params: TradingParams, fee_per_contract: float) -> int:
    """Whole contracts so that a stop-loss exit loses at most risk_per_trade_pct of equity.

    The loss per contract at the stop is the premium times the stop distance plus the slippage a
    stop exit suffers (it sells into a falling bid, after a latency, sometimes in increments),
    plus the two fees; the premium of the whole position is also capped at max_position_pct.
    """
    if ask <= 0 or equity <= 0:
        return 0
    stop_distance = abs(params.stop_loss_pct) + params.stop_slippage_pct
    loss_per_contract = ask * CONTRACT_MULTIPLIER * min(stop_distance, 100.0) / 100.0 + 2.0 * fee_per_contract
    by_risk = int(equity * params.risk_per_trade_pct / 100.0 // loss_per_contract)
    by_cap = int(equity * params.max_position_pct / 100.0 // (ask * CONTRACT_MULTIPLIER + fee_per_contract))
    return max(0, min(by_risk, by_cap, params.max_contracts))


def select_contract(chain: ChainSnapshot, direction: int, target_delta: float) -> Quote | None:
    """The call (direction +1) or put (-1) whose |delta| is closest to the target, with a bid."""
    want_call = direction > 0
    usable = (chain.is_call == want_call) & (chain.bid > 0) & (chain.ask > chain.bid)
    if not usable.any():
        return None
    distance = np.where(usable, np.abs(np.abs(chain.delta) - target_delta), np.inf)
    return chain.quote(int(np.argmin(distance)))


def collar_price(quote_price: float, buying: bool, collar_pct: float) -> float:
    """A limit price `collar_pct` through the quote on the cent grid (never below one cent):
    marketable at the quote the decision saw, but never filled far from it."""
    cents = quote_price * 100.0 * (1.0 + (collar_pct if buying else -collar_pct) / 100.0)
    rounded = math.ceil(round(cents, 6)) if buying else math.floor(round(cents, 6))
    return max(0.01, rounded / 100.0)
