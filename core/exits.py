"""Exit rules for an open long-option position, each with a stable exit code.

Checked in order every cycle; the first that fires decides. Gains are measured on the bid
(what a sell would get) against the average entry fill. The safeguards (end-of-day flatten and
the stop-loss; the operator's stop and the drawdown halt act elsewhere) fire at any age; every
other exit waits until the position has been held `min_hold_min` minutes, in the worker, the
backtest and training alike (they all call `check_exits`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from core.calendar import Session
from core.params import TradingParams
from core.types import OptionContract, Reason

EMERGENCY_STOP = Reason("emergency_stop", "Operator emergency stop: flatten everything.")
BROKER_LIQUIDATION = Reason("broker_liquidation", "The broker liquidated the expiring position at 15:45 ET.")
MAX_DRAWDOWN_HALT = Reason("max_drawdown_halt", "Maximum drawdown reached: trading halted and flattened.")


@dataclass
class PositionState:
    """What the exit rules need to know about one open position (persisted on the trade row)."""

    trade_id: int
    contract: OptionContract
    direction: int  # +1 calls, -1 puts
    entry_qty: int
    qty_open: int
    entry_price: float
    entry_time: datetime
    peak_bid: float
    partials_done: int = 0
    entry_atr_pct: float = 0.05
    entry_vix: float = 18.0
    entry_trend_pct: float = 0.0


@dataclass(frozen=True)
class ExitSignal:
    reason: Reason
    qty: int


def dynamic_take_profit_pct(pos: PositionState, params: TradingParams) -> float:
    """Take-profit scaled up by a larger ATR, a higher VIX and a trend in the position's favour."""
    atr_factor = math.sqrt(max(pos.entry_atr_pct, 1e-4) / 0.05)
    vix_factor = math.sqrt(max(pos.entry_vix, 5.0) / 18.0)
    trend_factor = 1.0 + 0.5 * max(min(pos.entry_trend_pct * pos.direction / max(pos.entry_atr_pct, 1e-4), 1.0), -1.0)
    raw = params.take_profit_base_pct * atr_factor * vix_factor * trend_factor
    return min(max(raw, params.take_profit_min_pct), params.take_profit_max_pct)


def check_exits(
    pos: PositionState,
    bid: float,
    now: datetime,
    session: Session,
    params: TradingParams,
    policy_close_confidence: float | None,
) -> ExitSignal | None:
    """The first exit that fires for this position at this bid, or None to keep holding."""
    everything = pos.qty_open
    if now >= session.before_close(params.flatten_before_close_min):
        return ExitSignal(
            Reason(
                "eod_flatten",
                f"End-of-day flatten at {session.before_close(params.flatten_before_close_min):%H:%M} ET.",
            ),
            everything,
        )
    gain = (bid / pos.entry_price - 1.0) * 100.0 if pos.entry_price > 0 else 0.0
    if gain <= params.stop_loss_pct:
        return ExitSignal(
            Reason(
                "stop_loss",
                f"Bid {bid:.2f} is {gain:.1f}% from entry {pos.entry_price:.2f} (stop {params.stop_loss_pct}%).",
            ),
            everything,
        )
    held_min = (now - pos.entry_time).total_seconds() / 60.0
    if held_min < params.min_hold_min:
        return None  # only the safeguards above may close a position this young (min_hold_min)
    peak_gain = (pos.peak_bid / pos.entry_price - 1.0) * 100.0 if pos.entry_price > 0 else 0.0
    if peak_gain >= params.trailing_arm_pct:
        floor = pos.peak_bid * (1.0 - params.trailing_distance_pct / 100.0)
        if bid <= floor:
            return ExitSignal(
                Reason(
                    "trailing_stop",
                    f"Bid {bid:.2f} fell {params.trailing_distance_pct}% below its peak {pos.peak_bid:.2f}.",
                ),
                everything,
            )
    tp = dynamic_take_profit_pct(pos, params)
    if gain >= tp:
        return ExitSignal(Reason("take_profit", f"Gain {gain:.1f}% reached the take-profit {tp:.1f}%."), everything)
    partial = _partial(pos, gain, params)
    if partial is not None:
        return partial
    if held_min >= params.max_hold_min:
        return ExitSignal(Reason("max_hold", f"Held {held_min:.0f} minutes (limit {params.max_hold_min})."), everything)
    if policy_close_confidence is not None and policy_close_confidence >= params.policy_exit_min_confidence:
        return ExitSignal(
            Reason("policy_exit", f"The policy chose close with confidence {policy_close_confidence:.2f}."), everything
        )
    return None


def _partial(pos: PositionState, gain: float, params: TradingParams) -> ExitSignal | None:
    levels = (
        (params.partial1_gain_pct, params.partial1_fraction_pct, "partial_tp1"),
        (params.partial2_gain_pct, params.partial2_fraction_pct, "partial_tp2"),
    )
    for level_index, (level, fraction, code) in enumerate(levels, start=1):
        if pos.partials_done >= level_index or gain < level:
            continue
        qty = int(pos.entry_qty * fraction / 100.0)
        if 0 < qty < pos.qty_open:
            return ExitSignal(
                Reason(code, f"Gain {gain:.1f}% reached {level}%: selling {qty} of {pos.entry_qty}."), qty
            )
        pos.partials_done = level_index  # too small a position to split: skip this level
    return None
