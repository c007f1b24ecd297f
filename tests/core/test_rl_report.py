"""Pooled walk-forward figures: folds restart at full capital, so the pooled drawdown is the worst
fold's (never the folds' losses piled onto one capital), and the underlying benchmark is held
only through the sessions the policies trade."""

from __future__ import annotations

from datetime import date

from core.calendar import last_sessions
from core.market.synthetic import SyntheticWorld
from core.rl.report import DayResult, bootstrap_report, pooled_drawdown
from worker.offline.evaluate import underlying_days

CAPITAL = 100_000.0


def _fold(*pnls: float) -> list[DayResult]:
    return [DayResult(f"2026-03-{i + 2:02d}", p, (p,)) for i, p in enumerate(pnls)]


def test_the_pooled_drawdown_is_the_worst_folds_on_its_own_capital() -> None:
    first, second = _fold(-20_000, -20_000, 5_000), _fold(-10_000, -25_000, -5_000)
    on_one_capital = bootstrap_report(first + second, CAPITAL)["max_drawdown_pct"]
    assert on_one_capital is not None and on_one_capital < -70  # the misleading figure: losses piled up
    pooled = pooled_drawdown([first, second], CAPITAL, seed=3)
    assert pooled["max_drawdown_pct"] == -40.0  # the second fold: 100k -> 60k
    lo, hi = pooled["max_drawdown_pct_lo"], pooled["max_drawdown_pct_hi"]
    assert lo is not None and hi is not None and lo <= -40.0 <= hi <= 0
    assert pooled == pooled_drawdown([first, second], CAPITAL, seed=3), "seeded"


def test_the_underlying_is_held_open_to_close_on_the_test_sessions_only() -> None:
    world = SyntheticWorld(7)
    sessions = last_sessions(date(2026, 3, 19), 3)
    days = underlying_days(world, sessions, CAPITAL)
    for s, d in zip(sessions, days, strict=True):
        moves = [
            float(world.session_bars(s, sym).close[-1]) / float(world.session_bars(s, sym).open[0]) - 1
            for sym in world.symbols
        ]
        assert d.pnl == CAPITAL * sum(moves) / len(moves)
