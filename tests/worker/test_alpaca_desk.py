"""The order desk at the fake Alpaca (real alpaca-py clients): orders that are pending_new and
fill later, asynchronous cancels, a stop that Alpaca refuses at first, holdings that are not
ours, the 15:30 cutoff for closing orders, and paged option contracts."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.calendar import session_for
from core.params import TradingParams
from core.sizing import collar_price
from core.types import OrderRequest, OrderStatus, Side, TradingState
from db.control import save_param_version, set_trading_state
from tests.alpaca_helpers import atm_call, fake_alpaca, intent, paper_runtime, rt_rows, session_time
from tests.fake_alpaca import FakeAlpacaServer
from worker.book.reconcile import Reconciler
from worker.runtime import Runtime


def _buy(rt: Runtime, server: FakeAlpacaServer, qty: int = 4) -> OrderRequest:
    contract = atm_call(server)
    ask = server.state.quote(contract.symbol)[1]
    request = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, qty, True, "limit", collar_price(ask, True, 3.0))
    placed = rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    assert placed.update is not None
    return request


def test_an_order_pending_new_that_fills_later_is_booked_once(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.async_orders = True
    rt = paper_runtime(server, db_url, monkeypatch)
    request = _buy(rt, server)
    assert rt.cycle.book.open_count() == 0, "nothing filled in the POST answer"
    for _ in range(3):
        server.state.advance()
        rt.cycle.desk.sync(server.state.now)
    assert rt_rows(rt, f"SELECT qty FROM fill WHERE client_order_id = '{request.client_order_id}'") == [(4,)]
    assert rt_rows(rt, "SELECT entry_qty, qty_open FROM trade") == [(4, 4)]


def test_a_stop_alpaca_refuses_at_first_is_retried_and_confirmed_only_when_flat(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    entry = _buy(rt, server)
    # a resting exit holds the contracts: until its cancel takes effect, closing is refused (403)
    server.state.async_cancels = True
    exit_request = OrderRequest(str(uuid.uuid4()), entry.contract, Side.SELL, 4, False, "limit", 99.0)
    rt.cycle.desk.place(exit_request, "take_profit", server.state.now, trade_id=1)
    set_trading_state(rt.engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    assert rt.control.tick(server.state.now) is None
    control = rt_rows(rt, "SELECT halt_applied_at, halt_summary FROM controlstate")[0]
    assert control[0] is None and "Stop incomplete" in str(control[1]) and entry.contract.symbol in str(control[1])
    failures = rt_rows(rt, "SELECT message FROM event WHERE code = 'stop_failed'")
    assert failures and "insufficient qty available" in str(failures[0][0])
    server.state.advance()  # the cancel takes effect
    summary = rt.control.tick(server.state.now)
    assert summary is not None and "0 positions left" in summary
    assert server.state.positions == {}
    trades = rt_rows(rt, "SELECT status, exit_reason_code FROM trade")
    assert trades == [("closed", "emergency_stop")]


def test_stock_holdings_in_the_account_never_break_a_cycle_and_are_reported(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.add_stock("AAPL", 10, 230.0, open_order=True)
    rt = paper_runtime(server, db_url, monkeypatch)
    for _ in range(3):
        server.state.advance()
        rt.cycle.run(server.state.now)
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems
    assert any(h.startswith("AAPL") for h in report.other_holdings)
    events = rt_rows(rt, "SELECT message FROM event WHERE code = 'other_holdings'")
    assert events and "AAPL" in str(events[0][0])
    assert rt_rows(rt, "SELECT count(*) FROM event WHERE code = 'cycle_failed'") == [(0,)]
    set_trading_state(rt.engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    summary = rt.control.tick(server.state.now)
    assert summary is not None and "AAPL" in summary, "left alone, and listed"
    assert server.state.stocks == {"AAPL": [10, 230.0]}


def test_a_closing_order_after_the_cutoff_is_refused_by_alpaca(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_alpaca(start=session_time(15, 20), cash=1_000_000.0) as server:
        rt = paper_runtime(server, db_url, monkeypatch)
        entry = _buy(rt, server, qty=2)
        server.state.advance(11)  # 15:31
        sell = OrderRequest(str(uuid.uuid4()), entry.contract, Side.SELL, 2, False, "market")
        placed = rt.cycle.desk.place(sell, "eod_flatten", server.state.now, trade_id=1)
        assert placed.update is not None and placed.update.status is OrderStatus.REJECTED
        assert "15:30" in (placed.update.reject_reason or "")


def test_option_contracts_are_read_across_pages(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.contract_page_size = 7
    rt = paper_runtime(server, db_url, monkeypatch)
    chain = rt.market.chain("SPY", server.state.now)
    assert chain is not None and len(chain.strikes) > 7, "contracts past the first page are tradable too"
    pages = [r for r in server.state.requests if r[1] == "/v2/options/contracts"]
    assert len(pages) > 1


def test_an_asynchronous_cancel_can_still_fill_and_the_fill_is_booked(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    server.state.async_cancels = True
    contract = atm_call(server)
    ask = server.state.quote(contract.symbol)[1]
    request = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, 3, True, "limit", round(ask - 0.5, 2))
    rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    assert rt.cycle.desk.working_for("SPY")
    rt.cycle.desk.cancel(request.client_order_id, server.state.now)
    order = server.state.orders_for(request.client_order_id)[0]
    assert order["status"] == "pending_cancel"
    order["limit_price"] = f"{ask + 5:.2f}"  # the market moved through it before the cancel landed
    server.state.advance()
    rt.cycle.desk.sync(server.state.now + timedelta(seconds=1))
    assert not rt.cycle.desk.working_for("SPY")
    assert rt_rows(rt, f"SELECT qty FROM fill WHERE client_order_id = '{request.client_order_id}'") == [(3,)]
    assert rt_rows(rt, "SELECT entry_qty, status FROM trade") == [(3, "open")]


def test_the_fakes_close_all_answers_207_with_a_failed_entry_while_contracts_are_held(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What DELETE /v2/positions really answers (the worker closes per position instead):
    alpaca-py parses the failed entry, so the fake speaks the real shape."""
    rt = paper_runtime(server, db_url, monkeypatch)
    entry = _buy(rt, server)
    server.state.async_cancels = True
    rt.cycle.desk.place(
        OrderRequest(str(uuid.uuid4()), entry.contract, Side.SELL, 4, False, "limit", 99.0),
        "take_profit",
        server.state.now,
        trade_id=1,
    )
    assert rt.clients is not None
    answers = rt.clients.trading.close_all_positions(cancel_orders=True)
    failed = [a for a in answers if a.status == 403]
    assert failed and "insufficient qty available" in failed[0].body.message  # type: ignore[union-attr]


def test_a_foreign_option_fill_on_the_same_underlying_leaves_the_workers_trade_alone(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    held = _buy(rt, server).contract  # the worker's SPY call
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    put = next(chain.quote(i).contract for i in range(len(chain.strikes)) if not chain.is_call[i])
    # the operator sells a SPY put to open by hand in the same account
    body = {"symbol": put.symbol, "qty": "1", "side": "sell", "type": "market", "time_in_force": "day",
            "position_intent": "sell_to_open", "client_order_id": "by-hand-1"}  # fmt: skip
    assert server.state.submit(body, None)["status"] == "filled"
    server.state.advance()
    rt.cycle.desk.sync(server.state.now)
    assert rt_rows(rt, "SELECT contract, status, qty_open, exit_reason_code FROM trade") == [
        (held.symbol, "open", 4, None)
    ], "the put's fill is not the call's exit"
    assert rt.cycle.book.holding(held) is not None and rt.cycle.book.holding(put) is None
    assert rt_rows(rt, "SELECT contract, qty FROM fill WHERE client_order_id = 'by-hand-1'") == [(put.symbol, 1)]
    foreign = rt_rows(rt, "SELECT message FROM event WHERE code = 'foreign_fill'")
    assert foreign and put.symbol in str(foreign[0][0])
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.problems == [f"unknown position {put.symbol}: broker -1, database 0"], "compared contract by contract"


def test_the_same_refusal_again_and_again_sets_reducing_naming_the_brokers_message(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    rt.cycle.desk.review(server.state.now, TradingParams(broker_refusals_before_reducing=3))
    server.state.refuse_opening = "account not eligible to trade this option strategy"
    for n in range(1, 4):
        request = _buy_request(server, qty=n)  # a different size each time: still the same refusal
        placed = rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
        assert placed.update is not None and placed.update.status is OrderStatus.REJECTED
        state = rt_rows(rt, "SELECT state FROM controlstate")[0][0]
        assert state == ("REDUCING" if n == 3 else "ACTIVE"), f"after {n} refusals"
    reason = rt_rows(rt, "SELECT reason_code, reason FROM controlstate")[0]
    assert reason[0] == "broker_refusals" and "not eligible to trade this option strategy" in str(reason[1])
    assert rt_rows(rt, "SELECT count(*) FROM event WHERE code = 'broker_refused'") == [(3,)]
    denied = rt.cycle.desk.place(_buy_request(server), "test_entry", server.state.now, intent=intent())
    assert denied.denied is not None and denied.denied.code == "trading_state", "no fourth try is sent"


def test_refusals_that_differ_or_are_interrupted_do_not_escalate(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    for message in ("insufficient options buying power", "account not eligible", "insufficient options buying power"):
        server.state.refuse_opening = message
        rt.cycle.desk.place(_buy_request(server), "test_entry", server.state.now, intent=intent())
    server.state.refuse_opening = ""
    rt.cycle.desk.place(_buy_request(server), "test_entry", server.state.now, intent=intent())  # accepted: reset
    server.state.refuse_opening = "insufficient options buying power"
    rt.cycle.desk.place(_buy_request(server), "test_entry", server.state.now, intent=intent())
    assert rt_rows(rt, "SELECT state FROM controlstate")[0][0] == "ACTIVE"


def _buy_request(server: FakeAlpacaServer, qty: int = 1) -> OrderRequest:
    contract = atm_call(server)
    ask = server.state.quote(contract.symbol)[1]
    return OrderRequest(str(uuid.uuid4()), contract, Side.BUY, qty, True, "limit", collar_price(ask, True, 3.0))


def _resting_buy(rt: Runtime, server: FakeAlpacaServer, qty: int = 2) -> tuple[OrderRequest, str]:
    """An entry limit far below the market: it rests at the broker. Returns it and its broker id."""
    contract = atm_call(server)
    bid = server.state.quote(contract.symbol)[0]
    request = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, qty, True, "limit", round(bid * 0.5, 2))
    rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    assert rt.cycle.desk.working_for(contract.underlying)
    return request, server.state.by_cid[request.client_order_id]


def test_a_replaced_order_is_followed_to_its_successor_and_its_fills_are_booked(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    request, order_id = _resting_buy(rt, server)
    ask = server.state.quote(request.contract.symbol)[1]
    successor = server.state.replace(order_id, limit=round(ask * 1.03, 2))  # re-priced outside the worker
    assert successor["status"] == "filled"
    server.state.advance()
    rt.cycle.desk.sync(server.state.now)
    assert rt_rows(rt, "SELECT status, filled_qty FROM orders") == [("filled", 2)]
    assert rt_rows(rt, f"SELECT qty FROM fill WHERE client_order_id = '{request.client_order_id}'") == [(2,)]
    assert rt_rows(rt, "SELECT contract, qty_open FROM trade") == [(request.contract.symbol, 2)]
    assert not rt.cycle.desk.working_for("SPY")
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems


@pytest.mark.parametrize(
    ("status", "filled", "expected"),
    [("done_for_day", 0, "expired"), ("calculated", 2, "filled"), ("calculated", 1, "expired")],
)
def test_done_for_day_and_calculated_orders_end_and_free_the_symbol(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, status: str, filled: int, expected: str
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    request, order_id = _resting_buy(rt, server)
    price = server.state.quote(request.contract.symbol)[1]
    order = server.state.orders[order_id]
    with server.state.lock:  # what Alpaca reports at the end of the order's day
        order.update(status=status, filled_qty=str(filled), filled_avg_price=f"{price:.4f}" if filled else None)
        server.state.resting.pop(order_id, None)
        if filled:
            server.state.set_position(request.contract.symbol, filled, price)
    server.state.advance()
    rt.cycle.desk.sync(server.state.now)
    assert rt_rows(rt, "SELECT status, filled_qty FROM orders") == [(expected, filled)]
    assert not rt.cycle.desk.working_for("SPY"), f"{status} no longer blocks the symbol"
    assert rt_rows(rt, "SELECT coalesce(sum(qty_open), 0) FROM trade") == [(filled,)]


@pytest.mark.parametrize("kind", ["OPEXP", "OPEXC"])
def test_an_expiry_or_exercise_activity_closes_the_trade_once_and_never_halts_reconciliation(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    held = _buy(rt, server).contract
    entry, fees = (float(x) for x in rt_rows(rt, "SELECT entry_avg, fees FROM trade")[0])  # type: ignore[arg-type]
    server.state.option_activity(held.symbol, kind)  # gone from positions, no fill, no order
    assert server.state.positions == {}
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems
    assert report.option_events == 1
    status, code, exit_avg, pnl = rt_rows(rt, "SELECT status, exit_reason_code, exit_avg, realized_pnl FROM trade")[0]
    session = session_for(server.state.now.date())
    assert session is not None
    if kind == "OPEXP":
        assert (status, code, exit_avg) == ("closed", "option_expired", 0.0)
    else:
        spot = rt.cycle.market.spot("SPY", session.close)
        assert (status, code) == ("closed", "option_exercised")
        assert exit_avg == pytest.approx(round(max(spot - held.strike, 0.0), 2))
        shares = rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares'")
        assert shares and "400 shares of SPY" in str(shares[0][0])
        assert "exercised_shares flatten: 400 SPY shares closed at market" in str(shares[0][0])
        assert "SPY" not in server.state.stocks, "the shares were flattened (the default)"
    assert pnl == pytest.approx((float(exit_avg) - entry) * 400 - fees)  # type: ignore[arg-type]
    again = Reconciler(rt.cycle).run(server.state.now)  # a second poll (or a restarted worker) books nothing
    assert again.clean and again.option_events == 0
    assert rt_rows(rt, "SELECT count(*) FROM fill WHERE client_order_id LIKE 'activity:%'") == [(1,)]


def test_exercised_shares_are_left_and_reported_when_the_parameter_says_report(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    save_param_version(rt.engine, {"exercised_shares": "report"}, author="test")
    held = _buy(rt, server).contract
    server.state.option_activity(held.symbol, "OPEXC")
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean and server.state.stocks["SPY"][0] == 400, "left in the account"
    assert any(h.startswith("SPY") for h in report.other_holdings), "and listed as another holding"
    shares = rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares'")
    assert "flatten them in the account" in str(shares[0][0])
