"""The levels the console shows are the bids at which core/exits.py fires: just past each level
the worker exits with that code, just short of it the position holds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.calendar import session_for
from core.exits import PositionState, check_exits
from core.params import TradingParams
from core.position_view import distance_to_stop_pct, exit_levels, model_greeks
from core.types import OptionContract, Right

SESSION = session_for(date(2026, 3, 10))
assert SESSION is not None
NOW = SESSION.at(60)
PARAMS = TradingParams(partial1_gain_pct=400.0, partial2_gain_pct=500.0, max_hold_min=390)


def _position(peak: float = 2.0, direction: int = 1) -> PositionState:
    right = Right.CALL if direction > 0 else Right.PUT
    contract = OptionContract("SPY", SESSION.day, 600.0, right)
    return PositionState(1, contract, direction, 4, 4, 2.0, NOW - timedelta(minutes=5), peak, 0, 0.06, 19.0, 0.01)


def _code(pos: PositionState, bid: float) -> str | None:
    signal = check_exits(pos, bid, NOW, SESSION, PARAMS, None)
    return None if signal is None else signal.reason.code


def test_the_stop_and_take_profit_levels_are_where_the_exits_fire() -> None:
    pos = _position()
    levels = exit_levels(pos, PARAMS, SESSION)
    assert _code(pos, levels.stop_price - 0.001) == "stop_loss"
    assert _code(pos, levels.stop_price + 0.001) is None
    assert _code(pos, levels.take_profit_price + 0.001) == "take_profit"
    assert _code(pos, levels.take_profit_price - 0.001) is None
    assert levels.flatten_at == SESSION.before_close(PARAMS.flatten_before_close_min)


def test_an_armed_trailing_stop_has_a_floor_where_it_fires() -> None:
    unarmed = exit_levels(_position(peak=2.0), PARAMS, SESSION)
    assert unarmed.trailing_floor is None
    peak = unarmed.trailing_arm_price + 0.10
    pos = _position(peak=peak)
    levels = exit_levels(pos, PARAMS, SESSION)
    assert levels.trailing_floor is not None
    if levels.trailing_floor < levels.take_profit_price:
        assert _code(pos, levels.trailing_floor - 0.001) == "trailing_stop"
        assert _code(pos, levels.trailing_floor + 0.001) is None
    assert distance_to_stop_pct(levels.trailing_floor * 1.1, levels) == pytest.approx(100 / 11)


def test_model_greeks_have_the_right_signs() -> None:
    call = model_greeks(_position(direction=1), spot=600.0, vix=18.0, minutes_left=120.0)
    put = model_greeks(_position(direction=-1), spot=600.0, vix=18.0, minutes_left=120.0)
    assert 0.3 < call.delta < 0.7 and -0.7 < put.delta < -0.3
    assert call.theta_10min < 0 and put.theta_10min < 0, "time only takes value away"
