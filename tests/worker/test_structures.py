"""Credit structures through the worker's own cycle on the simulator: one multi-leg order opens
and closes each, every leg fills together, the trade's P&L is its fills' cash, a restart restores
the legs, and a leg the broker closes alone is caught within a cycle and the rest closed."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from core.types import OrderRequest, Side
from tests.conftest import ACTIVE_PARAMS, run_until_open_position, with_params
from tests.console_helpers import rows
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions, build_runtime, restore_simulated_account

STRUCTURE_EXITS = {"credit_target", "credit_stop", "structure_stop", "max_hold", "eod_flatten", "policy_exit"}


def _cash_by_trade(url: str) -> dict[int, float]:
    """Each trade's P&L recomputed from its orders' fills: received minus paid, minus fees."""
    cash: dict[int, float] = defaultdict(float)
    sql = "SELECT o.trade_id, f.side, f.qty, f.price, f.fee FROM fill f JOIN orders o ON o.id = f.order_id"
    for trade_id, side, qty, price, fee in rows(url, sql):
        cash[int(trade_id)] += (-1 if side == "buy" else 1) * float(price) * 100 * int(qty) - float(fee)  # type: ignore[arg-type]
    return cash


@pytest.fixture(scope="module")
def condor_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('condors') / 'condors.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="iron_condor", policy_mode="rules")
    run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 24), end=date(2025, 11, 25))
    return url


def test_every_condor_is_one_order_in_and_one_out_with_every_leg_filled_together(condor_run: str) -> None:
    trades = rows(condor_run, "SELECT id, structure, legs, entry_qty, status, exit_reason_code FROM trade")
    assert len(trades) >= 3
    for trade_id, structure, legs, entry_qty, status, exit_code in trades:
        assert structure == "iron_condor" and status == "closed" and exit_code in STRUCTURE_EXITS
        assert len(json.loads(str(legs))) == 4
        orders = rows(condor_run, f"SELECT client_order_id, legs, opening FROM orders WHERE trade_id = {trade_id}")
        assert sorted(o[2] for o in orders) == [0, 1], f"trade {trade_id}: one order in, one out"
        for cid, order_legs, _ in orders:
            assert order_legs is not None and len(str(order_legs)) > 10
            fills = rows(condor_run, f"SELECT contract, qty FROM fill WHERE client_order_id = '{cid}'")
            per_leg: dict[str, int] = defaultdict(int)
            for contract, qty in fills:
                per_leg[str(contract)] += int(qty)  # type: ignore[call-overload]
            assert len(per_leg) == 4 and set(per_leg.values()) == {entry_qty}, "never part of the legs"


def test_a_structures_pnl_is_the_cash_its_fills_moved(condor_run: str) -> None:
    cash = _cash_by_trade(condor_run)
    for trade_id, pnl, entry_avg, max_loss, entry_qty in rows(
        condor_run, "SELECT id, realized_pnl, entry_avg, max_loss, entry_qty FROM trade"
    ):
        assert pnl == pytest.approx(cash[int(trade_id)], abs=0.01)  # type: ignore[arg-type]
        assert float(entry_avg) < 0, "a credit"  # type: ignore[arg-type]
        assert float(max_loss) == pytest.approx((5.0 + float(entry_avg)) * 100 * int(entry_qty))  # type: ignore[arg-type]
        assert float(pnl) >= -float(max_loss) - 8 * 0.65 * int(entry_qty) - 1e-6, "never beyond the max loss"  # type: ignore[arg-type]


def test_a_restart_restores_an_open_condor_and_closes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="iron_condor", policy_mode="rules", max_hold_min=30)
    first = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="before")
    now = run_until_open_position(first)
    first.journal.flush()
    held = dict(first.cycle.book.held_contracts(multi_leg_only=True))
    assert len(held) == 4 and sorted(v < 0 for v in held.values()) == [False, False, True, True]
    first.engine.dispose()
    second = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="after")
    restore_simulated_account(second)
    assert second.cycle.book.held_contracts(multi_leg_only=True) == held
    assert {p.contract.symbol: p.qty for p in second.broker.positions()} == held
    minute = now
    while second.cycle.book.open_count() and minute < now + timedelta(minutes=200):
        second.cycle.run(minute)
        minute += timedelta(minutes=1)
    second.journal.flush()
    status, code, pnl, trade_id = rows(url, "SELECT status, exit_reason_code, realized_pnl, id FROM trade")[0]
    assert status == "closed" and code in STRUCTURE_EXITS
    assert pnl == pytest.approx(_cash_by_trade(url)[int(trade_id)], abs=0.01)  # type: ignore[arg-type]
    second.engine.dispose()


def test_a_leg_the_broker_closes_alone_is_caught_and_the_rest_closed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="put_credit_spread", policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="orphan")
    now = run_until_open_position(rt)
    pos = next(iter(rt.cycle.book.structures()))
    short = next(leg for leg in pos.structure.legs if leg.ratio < 0)
    qty = -pos.held[short.contract.symbol]
    # the broker buys the short leg back on its own (Alpaca's partial close of a spread)
    own = rt.broker.submit(OrderRequest("broker-own-1", short.contract, Side.BUY, qty, False, "market"), now)
    assert own.fills, "the broker's own order filled"
    rt.cycle.desk.book(own, now)  # reported to the worker as a fill it did not send for, on a leg it holds
    assert rt.cycle.book.open[pos.trade_id].orphaned
    rt.cycle.run(now + timedelta(minutes=1))  # the long leg is left alone: closed at market
    rt.cycle.run(now + timedelta(minutes=2))
    rt.journal.flush()
    assert rt.cycle.book.open_count() == 0 and rt.broker.positions() == []
    status, code = rows(url, "SELECT status, exit_reason_code FROM trade")[0]
    assert (status, code) == ("closed", "orphan_leg")
    events = rows(url, "SELECT message FROM event WHERE code = 'orphan_leg'")
    assert events and pos.structure.label in str(events[0][0])
    rt.engine.dispose()
