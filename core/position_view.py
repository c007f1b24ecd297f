"""Where an open position stands against its exits, in prices: the stop, the take-profit, the
trailing stop (armed or not, and its floor), the distance to the stop, the end-of-day flatten,
and its model greeks. The same rules as core/exits.py, solved for the bid at which each fires,
so what the console shows is what the worker will do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.calendar import Session
from core.exits import PositionState, dynamic_take_profit_pct
from core.options.chain import model_value
from core.options.day_vol import same_day_vol
from core.params import TradingParams

MULTIPLIER = 100


@dataclass(frozen=True)
class ExitLevels:
    stop_price: float  # the bid at or below which the stop-loss fires
    take_profit_price: float  # the bid at or above which the take-profit fires
    take_profit_pct: float
    trailing_arm_price: float  # the peak bid that arms the trailing stop
    trailing_floor: float | None  # armed: the bid at or below which it fires
    flatten_at: datetime


@dataclass(frozen=True)
class Greeks:
    delta: float  # per share of the underlying
    theta_10min: float  # dollars per contract lost in the next 10 minutes, all else equal (<= 0)


def exit_levels(pos: PositionState, params: TradingParams, session: Session) -> ExitLevels:
    entry = pos.entry_price
    tp_pct = dynamic_take_profit_pct(pos, params)
    arm = entry * (1.0 + params.trailing_arm_pct / 100.0)
    armed = pos.peak_bid >= arm
    return ExitLevels(
        stop_price=entry * (1.0 + params.stop_loss_pct / 100.0),
        take_profit_price=entry * (1.0 + tp_pct / 100.0),
        take_profit_pct=tp_pct,
        trailing_arm_price=arm,
        trailing_floor=pos.peak_bid * (1.0 - params.trailing_distance_pct / 100.0) if armed else None,
        flatten_at=session.before_close(params.flatten_before_close_min),
    )


def distance_to_stop_pct(bid: float, levels: ExitLevels) -> float:
    """How far the bid may fall before the stop (or the armed trailing stop, if higher) fires, in %."""
    floor = max(levels.stop_price, levels.trailing_floor or 0.0)
    return (bid - floor) / bid * 100.0 if bid > 0 else 0.0


def model_greeks(pos: PositionState, spot: float, vix: float, minutes_left: float) -> Greeks:
    """Delta and 10-minute theta from the simulator's surface (the same prices the backtest uses);
    the same-day vol index is VIX scaled to VIX1D points (the console has no session open to anchor on)."""
    day_vol = same_day_vol(vix, float("nan"))
    now_value, delta = model_value(pos.contract, spot, day_vol, minutes_left)
    later_value, _ = model_value(pos.contract, spot, day_vol, max(minutes_left - 10.0, 0.0))
    return Greeks(delta, (later_value - now_value) * MULTIPLIER)
