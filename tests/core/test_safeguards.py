"""Each safeguard blocks on its own condition and records its stable code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from core.calendar import session_for
from core.params import TradingParams
from core.safeguards import SAFEGUARDS, EntryContext, first_block
from core.types import OptionContract, Quote, Reason, Regime, Right, TradingState

SESSION = session_for(date(2026, 3, 10))
assert SESSION is not None
NOW = SESSION.at(120)
CONTRACT = OptionContract("SPY", SESSION.day, 500.0, Right.CALL)


def _quote(bid: float = 1.00, ask: float = 1.02) -> Quote:
    return Quote(CONTRACT, bid, ask, NOW, 0.15, 0.4)


def base_context(**overrides: Any) -> EntryContext:
    ctx = EntryContext(
        params=TradingParams(),
        state=TradingState.ACTIVE,
        now=NOW,
        session=SESSION,
        data_problem=None,
        equity=100_000.0,
        start_of_day_equity=100_000.0,
        peak_equity=100_000.0,
        vix=17.0,
        iv_rank=40.0,
        regime=Regime.NORMAL,
        confidence=0.9,
        trades_today=0,
        last_exit_at=None,
        open_positions=0,
        candidate=_quote,
    )
    return replace(ctx, **overrides)


def test_a_clean_context_passes_every_safeguard() -> None:
    assert first_block(base_context()) is None


CASES: list[tuple[str, dict[str, Any]]] = [
    ("trading_state", {"state": TradingState.REDUCING}),
    ("trading_state", {"state": TradingState.HALTED}),
    ("session_window", {"now": SESSION.at(29)}),
    ("session_window", {"now": SESSION.before_close(60)}),
    ("data_stale", {"data_problem": Reason("data_stale", "Newest bar is old.")}),
    ("daily_loss_limit", {"equity": 85_000.0, "peak_equity": 100_000.0}),
    ("max_drawdown", {"equity": 69_000.0, "start_of_day_equity": 69_500.0, "peak_equity": 100_000.0}),
    ("vix_ceiling", {"vix": 36.0}),
    ("iv_rank", {"iv_rank": 99.0}),
    ("regime_gate", {"regime": Regime.CRASH}),
    ("min_confidence", {"confidence": 0.74}),
    ("max_trades", {"trades_today": 5}),
    ("cooldown", {"last_exit_at": NOW - timedelta(seconds=119)}),
    ("max_open_positions", {"open_positions": 2}),
    ("max_spread", {"candidate": lambda: _quote(1.00, 1.25)}),
    ("no_contract", {"candidate": lambda: None}),
]


@pytest.mark.parametrize(("code", "change"), CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_each_safeguard_blocks_with_its_code(code: str, change: dict[str, Any]) -> None:
    reason = first_block(base_context(**change))
    assert reason is not None and reason.code == code
    assert reason.text and reason.text[0].isupper()


def test_every_safeguard_has_a_case() -> None:
    names = {name for name, _ in SAFEGUARDS} - {"data_quality"}  # it forwards check_bars' codes
    assert names <= {code for code, _ in CASES}


def test_the_first_block_in_order_wins() -> None:
    reason = first_block(base_context(state=TradingState.HALTED, vix=80.0, confidence=0.1))
    assert reason is not None and reason.code == "trading_state"


def test_cooldown_and_session_edges_are_exact() -> None:
    assert first_block(base_context(last_exit_at=NOW - timedelta(seconds=120))) is None
    assert first_block(base_context(now=SESSION.at(30))) is None
    assert first_block(base_context(now=SESSION.before_close(61))) is None
