"""A paper record in the database, as a paper worker would have left it, for the go-live gate's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from db.models import Decision, Equity, ParityDay, Run, Trade

SMALL_GATE = {
    "policy_mode": "rules",
    "gate_min_paper_sessions": 3,
    "gate_min_paper_trades": 12,
    "gate_min_parity_days": 2,
}
PAPER_DAYS = ("2025-11-17", "2025-11-18", "2025-11-19")
PAPER_HOST = "paper-api.alpaca.markets"  # Alpaca's paper endpoint: the only host whose paper runs earn the record


def seed_paper_record(engine: Engine, param_version: int, win: float = 120.0) -> None:
    """Three paper sessions of the rules at `param_version` on Alpaca's paper endpoint (the only
    host whose runs earn the record): decisions, 15 closed trades, equity, and two parity days that
    reproduce nearly every decision."""
    with Session(engine) as s:
        s.add(Run(id="worker-paper", kind="worker", mode="paper", source="alpaca", started_at=datetime.now(UTC),
                  trading_host=PAPER_HOST))  # fmt: skip
        equity = 100_000.0
        n = 0
        for day in PAPER_DAYS:
            base = datetime.fromisoformat(f"{day}T15:00:00+00:00")
            for minute in range(3):
                s.add(Decision(run_id="worker-paper", time=base + timedelta(minutes=minute), symbol="SPY",
                               p_hold=0.9, p_buy_call=0.05, p_buy_put=0.05, p_close=0.0, action="hold",
                               confidence=0.9, final_action="hold", regime="normal", param_version=param_version,
                               model_version="rules-1"))  # fmt: skip
            for i in range(5):
                pnl = win if (n % 4) else -40.0
                n += 1
                equity += pnl
                at = base + timedelta(minutes=10 + i)
                s.add(Trade(run_id="worker-paper", status="closed", underlying="SPY", contract="SPY251117C00600000",
                            direction=1, entry_time=at, exit_time=at + timedelta(minutes=20), entry_qty=1, qty_open=0,
                            entry_avg=1.0, exit_qty=1, realized_pnl=pnl, entry_reason_code="policy_buy_call",
                            entry_reason="test", exit_reason_code="take_profit", confidence=0.8, regime="normal",
                            vix=15.0, model_version="rules-1", param_version=param_version,
                            entry_client_order_id=f"paper-{n}", structure="long_call"))  # fmt: skip
                s.add(Equity(run_id="worker-paper", time=at, cash=equity, equity=equity, peak=equity,
                             start_of_day=100_000.0))  # fmt: skip
        for day in PAPER_DAYS[1:]:
            s.add(ParityDay(day=day, computed_at=datetime.now(UTC), execution="broker", model_version="rules-1",
                            decisions=400, agreeing=396, agreement_pct=99.0, fills_both=8, live_only=0, sim_only=0,
                            cost_median=0.4))  # fmt: skip
        s.commit()
