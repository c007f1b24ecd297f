"""Reading orders at the fake Alpaca as Alpaca lists them: multi-leg orders rolled up only with
nested=true (legs otherwise listed as orders of their own), and one order that cannot be read
(a successor answering 404) or a fill read twice never stopping the sync of the account."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from core.sizing import collar_price
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OrderRequest, OrderStatus, Side
from tests.alpaca_helpers import atm_call, clients_for, intent, paper_runtime, rt_rows
from tests.fake_alpaca import FakeAlpacaServer
from worker.adapters.alpaca_broker import AlpacaBroker
from worker.book.reconcile import Reconciler
from worker.runtime import Runtime


def _condor(server: FakeAlpacaServer) -> Structure:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0))
    assert built.structure is not None
    return built.structure


@pytest.mark.parametrize("broker_nests", [True, False], ids=["nested", "listed-flat-even-asked-nested"])
def test_a_resting_condor_is_read_nested_and_its_fill_booked_leg_by_leg(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, broker_nests: bool
) -> None:
    server.state.ignore_nested = not broker_nests  # legs as orders of their own, the parent without legs
    rt = paper_runtime(server, db_url, monkeypatch)
    condor = _condor(server)
    greedy = order_for("ic-rest", condor, 2, True, "limit", -20.0)  # a credit the market does not pay
    placed = rt.cycle.desk.place(greedy, "test_entry", server.state.now, intent=replace(intent(), structure=condor))
    assert placed.update is not None and placed.update.status is OrderStatus.ACCEPTED
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems  # the legs are not unknown open orders
    fresh = AlpacaBroker(clients_for(server))  # as `python -m worker.flatten` reads the account: knows nothing
    assert [o.client_order_id for o in fresh.open_orders()] == ["ic-rest"], "a parent, never its legs"
    parent = server.state.orders[server.state.by_cid["ic-rest"]]
    parent["limit_price"] = "5.00"  # the market reaches it: every leg fills at its own quote
    server.state.advance()
    rt.cycle.desk.sync(server.state.now)
    fills = rt_rows(rt, "SELECT contract, side, qty, liquidation FROM fill ORDER BY contract")
    expected = sorted((leg.contract.symbol, leg.opening_side.value, 2, False) for leg in condor.legs)
    assert sorted(fills) == expected, "one fill per leg at the leg's price, none at the parent's net price"
    assert rt_rows(rt, "SELECT structure, entry_qty, qty_open, exit_reason_code FROM trade") == [
        ("iron_condor", 2, 2, None)
    ]
    assert rt_rows(rt, "SELECT count(*) FROM event WHERE code = 'foreign_fill'") == [(0,)]
    lists = [q for method, path, q in server.state.queries if (method, path) == ("GET", "/v2/orders")]
    assert lists and all(q.get("nested", "").lower() == "true" for q in lists), "every list asks for nested legs"


def _resting_buy(rt: Runtime, server: FakeAlpacaServer) -> tuple[OrderRequest, str]:
    contract = atm_call(server)
    bid = server.state.quote(contract.symbol)[0]
    request = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, 2, True, "limit", round(bid * 0.5, 2))
    rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    return request, server.state.by_cid[request.client_order_id]


def test_a_successor_answering_404_is_an_event_retried_later_and_the_other_orders_still_sync(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    first, first_id = _resting_buy(rt, server)
    second, second_id = _resting_buy(rt, server)
    ask = server.state.quote(first.contract.symbol)[1]
    server.state.replace(first_id, limit=round(ask * 1.03, 2), successor_missing=True)  # fills, but 404 by id
    server.state.orders[second_id]["limit_price"] = f"{ask * 1.03:.2f}"  # the other order's limit is reached
    server.state.advance()
    for _ in range(2):
        rt.cycle.desk.sync(server.state.now)
    fills = "SELECT qty FROM fill WHERE client_order_id = '{}'"
    assert rt_rows(rt, fills.format(second.client_order_id)) == [(2,)], "the rest of the account synced"
    assert rt_rows(rt, fills.format(first.client_order_id)) == []
    failed = rt_rows(rt, "SELECT message FROM event WHERE code = 'order_sync_failed'")
    assert len(failed) == 1, "said once, not at every sync"
    assert first.client_order_id in str(failed[0][0]) and "order not found" in str(failed[0][0])
    server.state.missing.clear()  # the successor can be read again
    server.state.advance()
    rt.cycle.desk.sync(server.state.now)
    assert rt_rows(rt, fills.format(first.client_order_id)) == [(2,)], "retried at the next sync"
    assert rt_rows(rt, "SELECT status, filled_qty FROM orders ORDER BY id") == [("filled", 2), ("filled", 2)]
    assert rt_rows(rt, "SELECT count(*) FROM event WHERE code = 'order_synced'") == [(1,)]


def test_a_fill_read_again_by_a_restarted_worker_is_booked_once(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    contract = atm_call(server)
    ask = server.state.quote(contract.symbol)[1]
    entry = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, 2, True, "limit", collar_price(ask, True, 3.0))
    rt.cycle.desk.place(entry, "test_entry", server.state.now, intent=intent())
    exit_request = OrderRequest(str(uuid.uuid4()), contract, Side.SELL, 2, False, "market")
    rt.cycle.desk.place(exit_request, "take_profit", server.state.now, trade_id=1)
    closed = rt_rows(rt, "SELECT status, exit_qty, realized_pnl FROM trade")
    assert closed[0][0] == "closed"
    again = paper_runtime(server, db_url, monkeypatch)  # a new process: its adapter has read nothing yet
    server.state.advance()
    again.cycle.desk.sync(server.state.now)  # lists the filled sell again, as an order it does not know
    assert rt_rows(again, f"SELECT count(*) FROM fill WHERE client_order_id = '{exit_request.client_order_id}'") == [
        (1,)
    ]
    assert rt_rows(again, "SELECT status, exit_qty, realized_pnl FROM trade") == closed
    assert rt_rows(again, "SELECT count(*) FROM event WHERE code IN ('foreign_fill', 'order_sync_failed')") == [(0,)]
