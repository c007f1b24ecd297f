"""Each exit rule fires with its stable code, in order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core.calendar import session_for
from core.exits import PositionState, check_exits, dynamic_take_profit_pct
from core.params import TradingParams
from core.types import OptionContract, Right

SESSION = session_for(date(2026, 3, 10))
assert SESSION is not None
ENTRY = SESSION.at(60)
P = TradingParams()


def pos(**kw: Any) -> PositionState:
    base = dict(
        trade_id=1,
        contract=OptionContract("SPY", SESSION.day, 500.0, Right.CALL),
        direction=1,
        entry_qty=8,
        qty_open=8,
        entry_price=2.00,
        entry_time=ENTRY,
        peak_bid=2.00,
    )
    base.update(kw)
    return PositionState(**base)  # type: ignore[arg-type]


def code(p: PositionState, bid: float, minutes: int = 10, close_conf: float | None = None) -> tuple[str, int] | None:
    sig = check_exits(p, bid, ENTRY + timedelta(minutes=minutes), SESSION, P, close_conf)
    return None if sig is None else (sig.reason.code, sig.qty)


def test_hold_inside_the_band() -> None:
    assert code(pos(), 2.05) is None


def test_stop_loss() -> None:
    assert code(pos(), 1.70) == ("stop_loss", 8)


def test_trailing_stop_arms_at_ten_percent() -> None:
    assert code(pos(peak_bid=2.18), 2.00) is None  # peak +9%: not armed
    assert code(pos(peak_bid=2.30), 2.11) == ("trailing_stop", 8)  # armed at +15%, 8% below the peak


def test_dynamic_take_profit_scales_with_atr_and_vix() -> None:
    calm = dynamic_take_profit_pct(pos(entry_atr_pct=0.02, entry_vix=12.0), P)
    wild = dynamic_take_profit_pct(pos(entry_atr_pct=0.12, entry_vix=30.0), P)
    assert P.take_profit_min_pct <= calm < wild <= P.take_profit_max_pct
    tp = dynamic_take_profit_pct(pos(), P)
    assert code(pos(partials_done=2), round(2.0 * (1 + tp / 100) + 0.01, 2)) == ("take_profit", 8)


def test_partials_sell_a_quarter_then_half_of_the_entry() -> None:
    p = pos(entry_atr_pct=0.3, entry_vix=30.0)  # take-profit far away
    assert code(p, 2.41) == ("partial_tp1", 2)
    p.partials_done, p.qty_open = 1, 6
    assert code(p, 2.81) == ("partial_tp2", 4)


def test_max_hold_and_policy_exit_and_eod_flatten() -> None:
    assert code(pos(), 2.00, minutes=120) == ("max_hold", 8)
    assert code(pos(), 2.00, close_conf=0.59) is None
    assert code(pos(), 2.00, close_conf=0.61) == ("policy_exit", 8)
    late = SESSION.before_close(P.flatten_before_close_min) - ENTRY
    assert code(pos(), 2.00, minutes=int(late.total_seconds() // 60)) == ("eod_flatten", 8)


def test_eod_flatten_respects_early_closes() -> None:
    early = session_for(date(2025, 11, 28))
    assert early is not None and early.early_close
    p = pos(entry_time=early.at(60), contract=OptionContract("SPY", early.day, 500.0, Right.CALL))
    sig = check_exits(p, 2.0, early.close - timedelta(minutes=35), early, P, None)
    assert sig is not None and sig.reason.code == "eod_flatten" and "12:25" in sig.reason.text


def test_a_young_position_closes_only_through_a_safeguard() -> None:
    young = TradingParams(min_hold_min=5)
    at = ENTRY + timedelta(minutes=2)

    def young_code(p: PositionState, bid: float, close_conf: float | None = None) -> str | None:
        sig = check_exits(p, bid, at, SESSION, young, close_conf)
        return None if sig is None else sig.reason.code

    assert young_code(pos(), 2.00, close_conf=0.99) is None, "the policy's close waits: no one-minute round trip"
    assert young_code(pos(partials_done=2), 4.00) is None, "so does a take-profit"
    assert young_code(pos(peak_bid=2.30), 2.11) is None, "and the trailing stop"
    assert young_code(pos(), 1.70) == "stop_loss", "a safeguard fires at any age"
    late = pos(entry_time=SESSION.before_close(young.flatten_before_close_min) - timedelta(minutes=1))
    assert (
        check_exits(late, 2.0, SESSION.before_close(young.flatten_before_close_min), SESSION, young, None) is not None
    )
    old_enough = check_exits(pos(), 2.0, ENTRY + timedelta(minutes=5), SESSION, young, 0.99)
    assert old_enough is not None and old_enough.reason.code == "policy_exit"
