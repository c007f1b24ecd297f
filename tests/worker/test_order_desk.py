"""The order desk against the broker-like simulator: partial fills, re-priced exits, the stop
that wins over a running cycle, fills that land while the stop cancels, the broker's cutoffs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from core.broker_sim import SimBroker
from core.calendar import session_for
from core.execution import BrokerRules, ExecutionModel
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.policy.base import Observation, PolicyOutput
from core.types import Action, OptionContract, OrderRequest, OrderStatus, Quote, Right, Side, TradingState
from db.control import save_param_version, set_trading_state
from tests.conftest import ACTIVE_PARAMS, EARLY_CLOSE_DAY, EXITS_OFF, TEST_DAY, run_until_open_position
from worker.runtime import Runtime

SESSION = session_for(TEST_DAY)
assert SESSION is not None


def _rows(rt: Runtime, sql: str, **bind: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(text(sql), bind).all())


def _book_equals_broker(rt: Runtime) -> None:
    book = {p.contract.symbol: p.qty_open for p in rt.cycle.book.positions()}
    broker = {p.contract.symbol: p.qty for p in rt.broker.positions()}
    assert book == broker
    open_rows = dict(_rows(rt, "SELECT contract, qty_open FROM trade WHERE status = 'open'"))
    assert open_rows == broker


class FallingMarket(SimMarket):
    """After `drop_from`, the broker sees bids `drop` lower than the cycle's quote (the market
    falls right after each decision) and asks `ask_drop` lower: limits priced from the cycle's
    quote stop crossing (or start to)."""

    drop_from: datetime | None = None
    drop = 0.0
    ask_drop = 0.0

    def quote_at(self, contract: OptionContract, moment: datetime) -> Quote | None:
        q = super().quote_at(contract, moment)
        if q is None or self.drop_from is None or moment < self.drop_from:
            return q
        return replace(q, bid=max(round(q.bid - self.drop, 2), 0.0), ask=max(round(q.ask - self.ask_drop, 2), 0.01))


def _use_market(rt: Runtime, market: SimMarket) -> None:
    assert isinstance(rt.broker, SimBroker)
    rt.broker.market = market
    rt.cycle.market = market


def test_a_partially_filled_entry_is_one_trade_and_the_book_equals_the_broker(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, **EXITS_OFF}, author="test")
    assert isinstance(runtime.broker, SimBroker)
    runtime.broker.model = ExecutionModel(atm_displayed_size=3, size_jitter=0.0, seed=3)
    now = run_until_open_position(runtime)
    for minute in range(5):
        runtime.cycle.run(now + timedelta(minutes=minute))
    entries = _rows(runtime, "SELECT client_order_id, filled_qty FROM orders WHERE opening = 1")
    fills = _rows(runtime, "SELECT client_order_id, count(*), sum(qty) FROM fill GROUP BY client_order_id")
    increments = {cid: (n, qty) for cid, n, qty in fills}
    assert any(increments[cid][0] > 1 for cid, _ in entries), "an entry filled in several increments"
    for cid, filled in entries:
        trades = _rows(runtime, "SELECT entry_qty FROM trade WHERE entry_client_order_id = :c", c=cid)
        if filled:
            assert trades == [(filled,)], "one entry order, one trade, every increment in it"
    _book_equals_broker(runtime)


def test_an_unfilled_stop_loss_is_cancelled_re_priced_and_then_sent_at_market(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, **EXITS_OFF, "max_open_positions": 1}, author="test")
    falling = FallingMarket(runtime.world)  # type: ignore[arg-type]
    _use_market(runtime, falling)
    now = run_until_open_position(runtime)
    trade_id = _rows(runtime, "SELECT id FROM trade WHERE status = 'open'")[0][0]
    # from here every sell limit priced from the cycle's bid misses the broker's lower bid
    falling.drop_from, falling.drop = now, 0.2  # under the bid of the option held: the market order finds a bid
    save_param_version(
        runtime.engine,
        {**ACTIVE_PARAMS, **EXITS_OFF, "max_open_positions": 1, "stop_loss_pct": -0.01, "order_collar_pct": 0.0},
        author="test",
    )
    minute = now
    for _ in range(8):
        runtime.cycle.run(minute)
        minute += timedelta(minutes=1)
        if not _rows(runtime, "SELECT id FROM trade WHERE id = :t AND status = 'open'", t=trade_id):
            break
    exits = _rows(
        runtime,
        "SELECT order_type, status, filled_qty FROM orders WHERE trade_id = :t AND opening = 0 ORDER BY id",
        t=trade_id,
    )
    assert exits[0][:2] == ("limit", "canceled"), exits
    assert exits[-1][0] == "market" and exits[-1][1] == "filled", exits
    closed = _rows(runtime, "SELECT status, exit_reason_code FROM trade WHERE id = :t", t=trade_id)
    assert closed == [("closed", "stop_loss")]
    _book_equals_broker(runtime)


class _HaltWhileDeciding:
    """A policy that, while the cycle asks it, lets the operator's stop land (committed from
    another connection) and then wants to buy: the entry must not go out."""

    def __init__(self, inner: Any, engine: Any) -> None:
        self.inner, self.engine, self.fired = inner, engine, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def decide(self, obs: Observation, mask: Any) -> PolicyOutput:
        out = self.inner.decide(obs, mask)
        if mask[Action.BUY_CALL] and not self.fired:
            self.fired = True
            set_trading_state(self.engine, TradingState.HALTED, "alice", "operator_stop", "stop now", flatten=True)
            return PolicyOutput((0.0, 1.0, 0.0, 0.0), Action.BUY_CALL, 1.0)
        return out


def test_a_stop_committed_while_the_cycle_runs_sends_no_entry(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, "min_confidence": 0.25}, author="test")
    runtime.cycle.policy = _HaltWhileDeciding(runtime.cycle.policy, runtime.engine)  # type: ignore[assignment]
    minute = SESSION.at(31)
    while not runtime.cycle.policy.fired and minute < SESSION.at(300):  # type: ignore[attr-defined]
        runtime.cycle.run(minute)
        minute += timedelta(minutes=1)
    runtime.journal.flush()
    assert _rows(runtime, "SELECT count(*) FROM orders") == [(0,)]
    blocked = _rows(runtime, "SELECT blocked_by, blocked_reason FROM decision WHERE action = 'buy_call'")
    assert blocked and blocked[-1][0] == "trading_state" and "HALTED" in blocked[-1][1]


def test_a_fill_that_lands_while_the_stop_cancels_is_booked_once_and_closed_by_the_stop(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, "max_open_positions": 1}, author="test")
    falling = FallingMarket(runtime.world)  # type: ignore[arg-type]
    _use_market(runtime, falling)
    assert isinstance(runtime.broker, SimBroker)
    runtime.broker.model = ExecutionModel(latency_s=6.0, update_s=5.0)  # an update lands before the cancel
    now = SESSION.at(90)
    runtime.cycle.run(now)  # session, features and the broker's clock
    spot = falling.spot("SPY", now)
    contract = OptionContract("SPY", TEST_DAY, float(round(spot)), Right.CALL)
    quote = falling.quote(contract, now)
    assert quote is not None
    from worker.book.intent import imported_intent

    intent = imported_intent("x", contract, "test", 1)
    request = OrderRequest(
        "entry-resting", contract, Side.BUY, 5, True, order_type="limit", limit_price=round(quote.ask - 0.2, 2)
    )
    placed = runtime.cycle.desk.place(request, "policy_buy_call", now, intent=intent)
    assert placed.update is not None and placed.update.status is OrderStatus.ACCEPTED and not placed.update.fills
    set_trading_state(runtime.engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    falling.drop_from, falling.ask_drop = now, 0.5  # the ask falls through the limit before the cancel lands
    summary = runtime.control.tick(now)
    for later in (now + timedelta(minutes=1), now + timedelta(minutes=2)):
        if summary is None:
            runtime.cycle.run(later)  # the cycle sends nothing while HALTED; the broker's updates land
            summary = runtime.control.tick(later)
    assert summary is not None and "0 positions left" in summary
    fills = _rows(runtime, "SELECT client_order_id, side, qty FROM fill ORDER BY id")
    assert [f for f in fills if f[0] == "entry-resting"] == [("entry-resting", "buy", 5)], "booked once"
    trades = _rows(runtime, "SELECT entry_client_order_id, status, exit_reason_code, entry_qty, exit_qty FROM trade")
    assert trades == [("entry-resting", "closed", "emergency_stop", 5, 5)]
    assert runtime.broker.positions() == []


def test_the_broker_refuses_a_closing_order_after_the_cutoff_unless_the_rule_is_off() -> None:
    session = session_for(TEST_DAY)
    assert session is not None
    market = SimMarket(SyntheticWorld(1))
    contract = OptionContract("SPY", TEST_DAY, float(round(market.spot("SPY", session.at(300)))), Right.CALL)
    for refuse in (True, False):
        broker = SimBroker(market, cash=1e6, rules=BrokerRules(refuse_closing_after_cutoff=refuse))
        bought = broker.submit(OrderRequest("buy", contract, Side.BUY, 2, True), session.at(300))
        assert bought.status is OrderStatus.FILLED
        late = session.close - timedelta(minutes=29)
        sold = broker.submit(OrderRequest("sell", contract, Side.SELL, 2, False), late)
        if refuse:
            assert sold.status is OrderStatus.REJECTED and "15:30" in (sold.reject_reason or "")
        else:
            assert sold.status is OrderStatus.FILLED


def test_a_limit_larger_than_the_displayed_size_fills_in_increments_and_a_cancel_is_asynchronous() -> None:
    session = session_for(TEST_DAY)
    assert session is not None
    market = SimMarket(SyntheticWorld(1))
    model = ExecutionModel(atm_displayed_size=4, size_jitter=0.0, latency_s=2.0, update_s=5.0)
    broker = SimBroker(market, cash=1e6, model=model)
    now = session.at(120)
    contract = OptionContract("SPY", TEST_DAY, float(round(market.spot("SPY", now))), Right.PUT)
    q = market.quote(contract, now)
    assert q is not None
    first = broker.submit(
        OrderRequest("big", contract, Side.BUY, 20, True, order_type="limit", limit_price=round(q.ask * 1.5, 2)), now
    )
    assert first.status is OrderStatus.PARTIALLY_FILLED and 0 < sum(f.qty for f in first.fills) <= 4
    assert first.fills[0].time == now + timedelta(seconds=2), "it meets the market after the latency"
    asked = broker.cancel("big", now + timedelta(seconds=6))
    assert asked is not None and asked.status is OrderStatus.PENDING_CANCEL
    later = {u.client_order_id: u for u in broker.sync(now + timedelta(minutes=1))}
    ended = later["big"]
    assert ended.status is OrderStatus.CANCELED
    assert sum(f.qty for f in first.fills + ended.fills) == ended.filled_qty < 20, "fills landed before the cancel"
    assert broker.positions()[0].qty == ended.filled_qty


def test_the_same_seed_gives_the_same_executions() -> None:
    session = session_for(TEST_DAY)
    assert session is not None

    def run(seed: int) -> list[tuple[int, float]]:
        market = SimMarket(SyntheticWorld(1))
        broker = SimBroker(market, cash=1e6, model=ExecutionModel(atm_displayed_size=5, seed=seed))
        now = session.at(100)
        contract = OptionContract("SPY", TEST_DAY, float(round(market.spot("SPY", now))), Right.CALL)
        broker.submit(OrderRequest("m", contract, Side.BUY, 30, True), now)
        return [(f.qty, f.price) for u in [broker.order_by_client_id("m")] if u for f in u.fills] + [
            (f.qty, f.price) for u in broker.sync(now + timedelta(minutes=1)) for f in u.fills
        ]

    assert run(4) == run(4)


@pytest.mark.parametrize("day", [EARLY_CLOSE_DAY, TEST_DAY])
def test_the_end_of_day_flatten_fills_before_the_brokers_cutoff(runtime: Runtime, day: date) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, **EXITS_OFF, "entry_delay_min": 0}, author="test")
    session = session_for(day)
    assert session is not None
    minute = session.before_close(90)
    while minute <= session.close:
        runtime.cycle.run(minute)
        runtime.control.tick(minute)
        minute += timedelta(minutes=1)
    runtime.journal.flush()
    cutoff = BrokerRules().closing_cutoff(session)
    closed = _rows(runtime, "SELECT exit_reason_code, exit_time FROM trade")
    assert closed, "the policy traded into the afternoon"
    for code, exit_time in closed:
        assert code != "broker_liquidation"
        assert datetime.fromisoformat(str(exit_time)).replace(tzinfo=UTC) < cutoff
    assert _rows(runtime, "SELECT count(*) FROM orders WHERE status = 'rejected'") == [(0,)]
    assert runtime.broker.positions() == []


class StaleQuotes(SimMarket):
    """A feed whose option quotes carry a timestamp two minutes old (a delayed feed)."""

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12):  # type: ignore[no-untyped-def]
        found = super().chain(underlying, now, strikes_each_side)
        if found is None:
            return None
        stamps = np.full(found.strikes.size, (now - timedelta(minutes=2)).timestamp())
        return replace(found, quote_times=stamps)


def test_a_stale_option_quote_blocks_the_entry_with_its_own_code_and_marks_it_degraded(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, "min_confidence": 0.25}, author="test")
    _use_market(runtime, StaleQuotes(runtime.world))  # type: ignore[arg-type]
    for minute in range(31, 200):
        runtime.cycle.run(SESSION.at(minute))
    runtime.journal.flush()
    stale = _rows(runtime, "SELECT blocked_reason, degraded FROM decision WHERE blocked_by = 'quote_stale'")
    assert stale and all(degraded == 1 for _, degraded in stale)
    assert "120 s old" in stale[0][0]
    assert _rows(runtime, "SELECT count(*) FROM orders") == [(0,)]


def test_excursions_and_equity_are_marked_at_the_bid(runtime: Runtime) -> None:
    save_param_version(runtime.engine, {**ACTIVE_PARAMS, **EXITS_OFF}, author="test")
    now = run_until_open_position(runtime)
    pos = runtime.cycle.book.positions()[0]
    quote = runtime.market.quote(pos.contract, now)
    assert quote is not None and quote.bid < quote.mid
    runtime.cycle.book.mark(pos.contract.underlying, quote.bid, now)
    held = runtime.cycle.book.open[pos.trade_id]
    assert held.mae_pct <= (quote.bid / pos.entry_price - 1.0) * 100.0 + 1e-9
    assert isinstance(runtime.broker, SimBroker)
    runtime.broker.sync(now)
    account = runtime.broker.account()
    bid_value = sum(
        p.qty * 100 * runtime.broker._quote(p.contract, now).bid  # type: ignore[union-attr]
        for p in runtime.broker.positions()
    )
    assert account.equity == pytest.approx(runtime.broker.cash + bid_value)
