"""Structures at the fake Alpaca through real alpaca-py: one `mleg` order opens and closes an iron
condor, every leg fills together or none does, and Alpaca's level and buying-power refusals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from core.params import TradingParams
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OrderRequest, OrderStatus, OrderUpdate, Reason
from tests.alpaca_helpers import clients_for, fake_alpaca, intent, paper_runtime, rt_rows
from tests.fake_alpaca import FakeAlpacaServer
from worker.adapters.alpaca_broker import AlpacaBroker
from worker.book.reconcile import Reconciler
from worker.runtime import Runtime


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with fake_alpaca(cash=100_000.0) as srv:
        yield srv


def _condor(server: FakeAlpacaServer) -> Structure:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0))
    assert built.structure is not None
    return built.structure


def _order(structure: Structure, qty: int, cid: str, limit: float | None, opening: bool = True) -> OrderRequest:
    return order_for(cid, structure, qty, opening, "market" if limit is None else "limit", limit)


def _natural(server: FakeAlpacaServer, structure: Structure) -> float:
    total = 0.0
    for leg in structure.legs:
        bid, ask = server.state.quote(leg.contract.symbol)
        total += leg.ratio * (ask if leg.ratio > 0 else bid)
    return round(total, 2)


def _per_leg(update: OrderUpdate) -> dict[str, tuple[str, int]]:
    return {f.contract.symbol: (f.side.value, f.qty) for f in update.fills}


def test_an_iron_condor_opens_and_closes_as_one_mleg_order(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server), fee_per_contract=0.0)
    condor = _condor(server)
    credit = _natural(server, condor)
    assert credit < 0
    opened = broker.submit(_order(condor, 2, "ic-open", limit=credit), server.state.now)
    body = server.state.submitted[-1]
    assert body["order_class"] == "mleg" and "symbol" not in body and float(body["limit_price"]) == credit
    assert [(leg["side"], leg["position_intent"], float(leg["ratio_qty"])) for leg in body["legs"]] == [
        ("buy", "buy_to_open", 1), ("sell", "sell_to_open", 1), ("sell", "sell_to_open", 1), ("buy", "buy_to_open", 1),
    ]  # fmt: skip
    assert opened.status is OrderStatus.FILLED and opened.filled_qty == 2
    assert _per_leg(opened) == {leg.contract.symbol: (leg.opening_side.value, 2) for leg in condor.legs}, (
        "one fill per leg, every leg"
    )
    assert opened.avg_fill_price == pytest.approx(credit)
    held = {p.contract.symbol: p.qty for p in broker.positions()}
    assert held == {leg.contract.symbol: 2 * leg.ratio for leg in condor.legs}, "shorts come back negative"
    server.state.advance(5)
    closed = broker.submit(_order(condor, 2, "ic-close", limit=None, opening=False), server.state.now)
    assert [leg["position_intent"] for leg in server.state.submitted[-1]["legs"]] == [
        "sell_to_close", "buy_to_close", "buy_to_close", "sell_to_close"
    ]  # fmt: skip
    assert closed.status is OrderStatus.FILLED and _per_leg(closed) == {
        leg.contract.symbol: (leg.closing_side.value, 2) for leg in condor.legs
    }
    assert broker.positions() == [] and server.state.positions == {}


def test_a_limit_short_of_the_legs_fills_no_leg_until_the_market_reaches_it(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server), fee_per_contract=0.0)
    condor = _condor(server)
    resting = broker.submit(_order(condor, 1, "ic-greedy", limit=-20.0), server.state.now)
    assert resting.status is OrderStatus.ACCEPTED and resting.fills == []
    assert server.state.positions == {}, "not one leg filled"
    server.state.advance(3)
    assert all(not u.fills for u in broker.sync(server.state.now)) and server.state.positions == {}
    broker.cancel("ic-greedy", server.state.now)
    assert broker.order_by_client_id("ic-greedy").status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_alpaca_refuses_a_condor_below_level_3_or_beyond_buying_power(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server), fee_per_contract=0.0)
    condor = _condor(server)
    server.state.options_level = 2
    refused = broker.submit(_order(condor, 1, "ic-l2", limit=None), server.state.now)
    assert refused.status is OrderStatus.REJECTED and "level 3" in str(refused.reject_reason)
    server.state.options_level = 3
    server.state.cash = 500.0 * 3 - 1.0  # three condors hold 3 x $500 (one wing), the credit aside
    poor = broker.submit(_order(condor, 3, "ic-bp", limit=None), server.state.now)
    assert poor.status is OrderStatus.REJECTED and "buying power" in str(poor.reject_reason)
    assert server.state.positions == {}


def _open_condor_through_the_desk(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Runtime, Structure]:
    rt = paper_runtime(server, db_url, monkeypatch)
    condor = _condor(server)
    entry = replace(intent(), structure=condor)
    placed = rt.cycle.desk.place(_order(condor, 2, "ic-desk-open", limit=_natural(server, condor)), "test_entry",
                                 server.state.now, intent=entry)  # fmt: skip
    assert placed.update is not None and placed.update.status is OrderStatus.FILLED
    return rt, condor


def test_a_condor_opens_is_repriced_and_closes_as_one_mleg_order_through_the_desk(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, condor = _open_condor_through_the_desk(server, db_url, monkeypatch)
    assert rt_rows(rt, "SELECT structure, entry_qty, qty_open FROM trade") == [("iron_condor", 2, 2)]
    pos = rt.cycle.book.on("SPY")
    assert pos is not None and pos.held == {leg.contract.symbol: 2 * leg.ratio for leg in condor.legs}
    server.state.advance(5)
    reason = Reason("credit_target", "test")
    stingy = _order(condor, 2, "ic-desk-close-1", limit=0.01, opening=False)  # too little to close
    rt.cycle.desk.place(stingy, reason.code, server.state.now, None, reason, pos.trade_id)
    assert rt.cycle.desk.working_for("SPY") and server.state.positions, "it rests, no leg filled"
    rt.cycle.desk.review(server.state.now, TradingParams())  # still working after a cycle: cancelled
    server.state.advance(1)
    rt.cycle.desk.sync(server.state.now)
    assert not rt.cycle.desk.working_for("SPY")
    closing = _natural(server, Structure(condor.kind, tuple(replace(leg, ratio=-leg.ratio) for leg in condor.legs)))
    again = _order(condor, 2, "ic-desk-close-2", limit=round(closing + 0.05, 2), opening=False)  # re-priced
    rt.cycle.desk.place(again, reason.code, server.state.now, None, reason, pos.trade_id)
    assert server.state.positions == {} and rt.cycle.book.open_count() == 0
    status, code, pnl, trade_id = rt_rows(rt, "SELECT status, exit_reason_code, realized_pnl, id FROM trade")[0]
    assert (status, code) == ("closed", "credit_target")
    fills = rt_rows(
        rt,
        "SELECT f.side, f.qty, f.price, f.fee FROM fill f JOIN orders o ON o.id = f.order_id "
        f"WHERE o.trade_id = {trade_id}",
    )
    cash = sum((-1 if s == "buy" else 1) * float(p) * 100 * int(q) - float(fee) for s, q, p, fee in fills)  # type: ignore[arg-type]
    assert pnl == pytest.approx(cash, abs=0.01) and len(fills) == 8, "four legs in, four out"


def test_an_assigned_short_leg_and_expired_wings_close_the_condor_without_a_halt(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, condor = _open_condor_through_the_desk(server, db_url, monkeypatch)
    for leg in condor.legs:  # at the close: the short put assigned, everything else expired
        kind = "OPASN" if leg.ratio < 0 and leg.contract.right.value == "P" else "OPEXP"
        server.state.option_activity(leg.contract.symbol, kind)
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems
    assert report.option_events == 4 and rt.cycle.book.open_count() == 0
    status, code = rt_rows(rt, "SELECT status, exit_reason_code FROM trade")[0]
    assert status == "closed" and code in ("option_assigned", "option_expired")
    booked = {
        c: (side, qty)
        for c, side, qty in rt_rows(rt, "SELECT contract, side, qty FROM fill WHERE client_order_id LIKE 'activity:%'")
    }
    assert booked == {leg.contract.symbol: (leg.closing_side.value, 2) for leg in condor.legs}, (
        "each leg closed on its own contract: shorts bought back, longs sold"
    )
