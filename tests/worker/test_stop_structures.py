"""The stop on structures, at the simulator through the worker's own control tick: a condor's
shorts are bought back and its legs closed as one multi-leg order, a long wing nobody bids for
is left at no risk, the halt is confirmed with a summary naming what was closed, what was left
and the P&L; a leg left alone is told once, not once a cycle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.broker_sim import SimBroker
from core.market.sim_market import SimMarket
from core.structures.position import StructurePosition
from core.types import OptionContract, OrderRequest, OrderStatus, Quote, Side, TradingState
from db.control import set_trading_state
from tests.conftest import ACTIVE_PARAMS, run_until_open_position, with_params
from worker.runtime import RunOptions, Runtime, build_runtime


class WingsMarket(SimMarket):
    """The simulated market with chosen contracts' bids set: 0 (nobody bids for a 0DTE wing),
    or a floor (someone does), for the cycle and the broker alike."""

    bids: dict[str, float]

    def _set(self, q: Quote | None) -> Quote | None:
        if q is None or q.contract.symbol not in self.bids:
            return q
        bid = self.bids[q.contract.symbol]
        return replace(q, bid=bid, ask=max(q.ask, round(bid + 0.01, 2))) if bid > 0 else replace(q, bid=0.0)

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        return self._set(super().quote(contract, now))

    def quote_at(self, contract: OptionContract, moment: datetime) -> Quote | None:
        return self._set(super().quote_at(contract, moment))


def _rows(rt: Runtime, sql: str, **bind: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(text(sql), bind).all())


def _set_bids(rt: Runtime, bids: dict[str, float]) -> None:
    """The runtime's market (the cycle's and the broker's: one object) with these bids from now on."""
    assert isinstance(rt.broker, SimBroker) and rt.broker.market is rt.cycle.market
    market = rt.cycle.market
    market.__class__ = WingsMarket
    market.bids = bids  # type: ignore[attr-defined]


def _open(tmp_path: Path, strategy: str, name: str) -> tuple[Runtime, datetime, StructurePosition]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy=strategy, policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id=name)
    now = run_until_open_position(rt)
    pos = next(iter(rt.cycle.book.structures()))
    return rt, now, pos


@pytest.fixture
def condor(tmp_path: Path) -> Iterator[tuple[Runtime, datetime, StructurePosition]]:
    rt, now, pos = _open(tmp_path, "iron_condor", "condor")
    assert pos.structure.kind.value == "iron_condor" and len(pos.held) == 4
    yield rt, now, pos
    rt.engine.dispose()


def _trade_cash(rt: Runtime, trade_id: int) -> float:
    """The trade's P&L from its orders' fills: received minus paid, minus fees."""
    fills = _rows(
        rt, "SELECT f.side, f.qty, f.price, f.fee FROM fill f JOIN orders o ON o.id = f.order_id WHERE o.trade_id = :t",
        t=trade_id,
    )  # fmt: skip
    return sum((-1 if side == "buy" else 1) * price * 100 * qty - fee for side, qty, price, fee in fills)


def test_the_stop_buys_a_condors_shorts_back_leaves_the_no_bid_wings_and_is_confirmed(
    condor: tuple[Runtime, datetime, StructurePosition],
) -> None:
    rt, now, pos = condor
    wings = {leg.contract.symbol for leg in pos.structure.legs if leg.ratio > 0}
    shorts = {leg.contract.symbol for leg in pos.structure.legs if leg.ratio < 0}
    _set_bids(rt, dict.fromkeys(wings, 0.0))
    set_trading_state(rt.engine, TradingState.HALTED, "alice", "operator_stop", "stop now", flatten=True)
    summary = None
    for minute in range(3):  # the control tick, and the cycle (which sends nothing while HALTED) between
        summary = summary or rt.control.tick(now + timedelta(minutes=minute))
        rt.cycle.run(now + timedelta(minutes=minute + 1))
    assert summary is not None, "the halt is confirmed"
    applied, stored = _rows(rt, "SELECT halt_applied_at, halt_summary FROM controlstate")[0]
    assert applied is not None and stored == summary
    held = {p.contract.symbol: p.qty for p in rt.broker.positions()}
    assert held == {symbol: pos.entry_qty for symbol in wings}, "the shorts bought back, the long wings left"
    stop_orders = _rows(rt, "SELECT legs, status FROM orders WHERE reason_code = 'emergency_stop'")
    assert len(stop_orders) == 1 and stop_orders[0][0] is not None, "one multi-leg order"
    bought = _rows(rt, "SELECT contract, side, qty FROM fill WHERE client_order_id IN "
                       "(SELECT client_order_id FROM orders WHERE reason_code = 'emergency_stop')")  # fmt: skip
    assert sorted(bought) == sorted((symbol, "buy", pos.entry_qty) for symbol in shorts)
    assert "Left at no risk" in summary
    assert all(f"{symbol} x{pos.entry_qty} (long, no bid" in summary for symbol in wings)
    pnl = _trade_cash(rt, pos.trade_id)
    assert f"trade {pos.trade_id} SPY iron condor" in summary and f"P&L {pnl:+,.2f} USD" in summary
    assert f"Realized P&L of the 1 trades the stop closed: {pnl:+,.2f} USD" in summary
    assert _rows(rt, "SELECT count(*) FROM event WHERE code = 'orphan_leg'") == [(0,)], "told once: by the stop"
    assert _rows(rt, "SELECT count(*) FROM event WHERE code IN ('stop_failed', 'stop_incomplete')") == [(0,)]


def test_a_condor_whose_wings_are_bid_closes_whole_as_one_multi_leg_order(
    condor: tuple[Runtime, datetime, StructurePosition],
) -> None:
    rt, now, pos = condor
    _set_bids(rt, {leg.contract.symbol: 0.03 for leg in pos.structure.legs if leg.ratio > 0})
    set_trading_state(rt.engine, TradingState.HALTED, "alice", "operator_stop", "stop now", flatten=True)
    summary = rt.control.tick(now) or rt.control.tick(now)
    assert summary is not None and "0 positions left at the broker" in summary
    assert rt.broker.positions() == []
    stop_orders = _rows(rt, "SELECT client_order_id, legs FROM orders WHERE reason_code = 'emergency_stop'")
    assert len(stop_orders) == 1 and len(stop_orders[0][1]) > 10, "one order, every leg in it"
    legs = _rows(rt, "SELECT contract FROM fill WHERE client_order_id = :c", c=stop_orders[0][0])
    assert {c for (c,) in legs} == set(pos.held)
    status, code, pnl = _rows(rt, "SELECT status, exit_reason_code, realized_pnl FROM trade")[0]
    assert (status, code) == ("closed", "emergency_stop")
    assert pnl == pytest.approx(_trade_cash(rt, pos.trade_id), abs=0.01)
    assert f"P&L {pnl:+,.2f} USD" in summary and "Left at no risk" not in summary


def _orphaned_spread(tmp_path: Path, long_bid: float) -> tuple[Runtime, datetime, str]:
    """A put credit spread whose short the broker bought back on its own: its long is left alone."""
    rt, now, pos = _open(tmp_path, "put_credit_spread", "orphan")
    short = next(leg for leg in pos.structure.legs if leg.ratio < 0)
    long = next(leg for leg in pos.structure.legs if leg.ratio > 0)
    _set_bids(rt, {long.contract.symbol: long_bid})
    own = rt.broker.submit(OrderRequest("broker-own-1", short.contract, Side.BUY, pos.entry_qty, False), now)
    assert own.fills
    rt.cycle.desk.book(own, now)
    assert rt.cycle.book.open[pos.trade_id].orphaned == [long.contract.symbol]
    return rt, now, long.contract.symbol


def test_a_leg_left_alone_while_halted_is_told_once_not_every_cycle(tmp_path: Path) -> None:
    rt, now, long = _orphaned_spread(tmp_path, long_bid=0.05)
    orders_before = _rows(rt, "SELECT count(*) FROM orders")
    set_trading_state(rt.engine, TradingState.HALTED, "reconcile", "reconcile_mismatch", "mismatch", flatten=False)
    for minute in range(1, 6):
        rt.cycle.run(now + timedelta(minutes=minute))
    events = _rows(rt, "SELECT message FROM event WHERE code = 'orphan_leg'")
    assert len(events) == 1, "one event for the leg, not one a cycle"
    assert long in events[0][0] and "HALTED" in events[0][0] and "closing it at market" not in events[0][0]
    assert _rows(rt, "SELECT count(*) FROM orders") == orders_before, "nothing was sent"
    set_trading_state(rt.engine, TradingState.ACTIVE, "alice", "resume", "resume")
    for minute in range(6, 9):
        rt.cycle.run(now + timedelta(minutes=minute))
    events = _rows(rt, "SELECT message FROM event WHERE code = 'orphan_leg' ORDER BY id")
    assert len(events) == 2 and "closing it at market" in events[1][0], "the order sent, told once"
    assert _rows(rt, "SELECT status, exit_reason_code FROM trade") == [("closed", "orphan_leg")]
    rt.engine.dispose()


def test_a_long_leg_left_alone_with_no_bid_is_left_at_no_risk_and_told_once(tmp_path: Path) -> None:
    rt, now, long = _orphaned_spread(tmp_path, long_bid=0.0)
    orders_before = _rows(rt, "SELECT count(*) FROM orders")
    for minute in range(1, 5):
        rt.cycle.run(now + timedelta(minutes=minute))
    events = _rows(rt, "SELECT message FROM event WHERE code = 'orphan_leg'")
    assert len(events) == 1 and long in events[0][0] and "no bid" in events[0][0]
    assert _rows(rt, "SELECT count(*) FROM orders") == orders_before, "no market sell that could never fill"
    rt.engine.dispose()


def test_the_simulators_close_all_never_sells_a_wing_nobody_bids_for_and_leaves_kept_contracts(
    condor: tuple[Runtime, datetime, StructurePosition],
) -> None:
    rt, now, pos = condor
    wings = sorted(leg.contract.symbol for leg in pos.structure.legs if leg.ratio > 0)
    shorts = {leg.contract.symbol for leg in pos.structure.legs if leg.ratio < 0}
    _set_bids(rt, dict.fromkeys(wings, 0.0))
    assert isinstance(rt.broker, SimBroker)
    updates = rt.broker.close_all(now, keep=frozenset(wings[:1]))
    by_contract = {u.contract.symbol: u for u in updates if u.contract is not None}
    assert wings[0] not in by_contract, "a kept contract is left to the caller"
    assert all(by_contract[s].status is OrderStatus.FILLED for s in shorts), "the shorts bought back"
    unbid = by_contract[wings[1]]
    assert unbid.status.is_open and unbid.fills == [], "a market sell nobody bids for works unfilled, as at Alpaca"
    assert {p.contract.symbol: p.qty for p in rt.broker.positions()} == dict.fromkeys(wings, pos.entry_qty)
