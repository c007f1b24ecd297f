"""Broker and schedule rules over whole simulated days, early closes included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from core.broker_sim import SimBroker
from core.calendar import NY, session_for, sessions_between
from core.execution import BrokerRules
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.types import OptionContract, OrderRequest, OrderStatus, Right, Side
from tests.conftest import ACTIVE_PARAMS, EARLY_CLOSE_DAY, EXITS_OFF, TEST_DAY, run_until_open_position, with_params
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

STRICT = BrokerRules(opening_cutoff_before_close_min=60)


def _utc(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def late_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Parameters that allow entries until 32 minutes before the close and flatten at the last
    minute they may (31), against a broker that refuses openings from 60 minutes before the
    close: only the broker's own rules stand between the policy and a late 0DTE order."""
    url = f"sqlite:///{tmp_path_factory.mktemp('late') / 'late.db'}"
    with_params(
        url,
        **ACTIVE_PARAMS,
        **EXITS_OFF,
        entry_cutoff_before_close_min=32,
        flatten_before_close_min=31,
        broker_refusals_before_reducing=50,  # the broker's cutoff is under test, not the escalation
    )
    options = RunOptions(db=url, seed=2, flush_every=50, broker_rules=STRICT)
    run_backtest(options, start=date(2025, 11, 24), end=date(2025, 12, 2))
    return url


def test_no_opening_fill_after_the_cutoff(late_run: str) -> None:
    engine = create_engine(late_run)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.status, o.created_at, o.reject_reason, f.time FROM orders o "
                "LEFT JOIN fill f ON f.client_order_id = o.client_order_id WHERE o.opening = 1"
            )
        ).all()
    assert rows
    refused_late = 0
    for status, created, reason, fill_time in rows:
        session = session_for(_utc(created).astimezone(NY).date())
        assert session is not None
        cutoff = STRICT.opening_cutoff(session)
        if fill_time is not None:
            assert _utc(fill_time) < cutoff, f"opening fill at {fill_time} after the cutoff {cutoff}"
        if _utc(created) >= cutoff:
            assert status == "rejected" and "refused from" in reason
            refused_late += 1
    assert refused_late > 0, "the run must have tried late entries for this test to mean anything"


def test_no_position_survives_the_liquidation_time(late_run: str) -> None:
    engine = create_engine(late_run)
    with engine.connect() as conn:
        trades = conn.execute(
            text("SELECT status, entry_time, exit_time, exit_reason_code, exit_avg, contract FROM trade")
        ).all()
    assert trades
    days = set()
    for status, entry, exit_time, exit_code, exit_avg, contract in trades:
        assert status == "closed"
        session = session_for(_utc(entry).astimezone(NY).date())
        assert session is not None
        days.add(session.day)
        # the broker's market sells start at 15:45 and walk a thin book within the minute; an option
        # nobody bids for by then waits for a bid (or expires worthless at the close)
        worthless = exit_avg == 0.0 and _utc(exit_time) == session.close
        if not worthless and _utc(exit_time) >= session.close - timedelta(minutes=14):
            assert exit_code == "broker_liquidation"
            _no_bid_while_waiting(contract, session.close - timedelta(minutes=15), _utc(exit_time))
        assert exit_code
    assert any(t[3] == "eod_flatten" for t in trades), "positions held into the close must be flattened"
    assert EARLY_CLOSE_DAY in days, "the early close (13:00) day must be traded too"


def _no_bid_while_waiting(symbol: str, liquidation: datetime, filled: datetime) -> None:
    """A liquidation that filled late had nobody bidding until shortly before: the broker's
    updates every 5 s saw a zero bid (the seed-2 world of `late_run`)."""
    market = SimMarket(SyntheticWorld(2))
    contract = OptionContract.from_symbol(symbol)
    moment = liquidation
    while moment < filled - timedelta(seconds=10):
        quote = market.quote_at(contract, moment)
        assert quote is not None and quote.bid == 0.0, f"{symbol} was bid {quote} at {moment}: it should have sold"
        moment += timedelta(seconds=5)


def test_a_missed_flatten_is_caught_by_the_broker_liquidation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The worker skips the flatten window (down or slow): the broker liquidates at 15:45 and the
    trade is closed with its own exit reason."""
    from worker.runtime import build_runtime

    url = f"sqlite:///{tmp_path / 'liq.db'}"
    with_params(
        url,
        **ACTIVE_PARAMS,
        **EXITS_OFF,
    )
    rt = build_runtime(RunOptions(db=url, seed=4), "worker", run_id="liq")
    run_until_open_position(rt)
    session = session_for(TEST_DAY)
    assert session is not None
    rt.cycle.run(session.close - timedelta(minutes=15))  # the next cycle the worker manages
    rt.journal.flush()
    assert rt.cycle.book.open_count() == 0 and rt.broker.positions() == []
    with rt.engine.connect() as conn:
        codes = {r[0] for r in conn.execute(text("SELECT exit_reason_code FROM trade"))}
        liq_orders = conn.execute(text("SELECT count(*) FROM orders WHERE reason_code = 'broker_liquidation'")).scalar()
    assert "broker_liquidation" in codes
    assert liq_orders >= 1


def test_every_closed_trade_has_both_reasons(late_run: str) -> None:
    engine = create_engine(late_run)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT entry_reason_code, entry_reason, exit_reason_code, exit_reason, "
                "exit_avg, realized_pnl FROM trade WHERE status = 'closed'"
            )
        ).all()
    assert rows
    for entry_code, entry_text, exit_code, exit_text, exit_avg, pnl in rows:
        assert entry_code and entry_text and exit_code and exit_text
        assert exit_avg is not None and pnl is not None


def test_early_close_cutoff_and_liquidation_times() -> None:
    session = session_for(EARLY_CLOSE_DAY)
    assert session is not None and session.early_close
    market = SimMarket(SyntheticWorld(1))
    broker = SimBroker(market, cash=1e6)
    spot = market.spot("SPY", session.close - timedelta(minutes=31))
    contract = OptionContract("SPY", EARLY_CLOSE_DAY, round(spot) - 2, Right.CALL)  # in the money: it has a bid
    opened = broker.submit(
        OrderRequest("a", contract, Side.BUY, 2, opening=True), session.close - timedelta(minutes=31)
    )
    assert opened.status is OrderStatus.FILLED
    late = broker.submit(OrderRequest("b", contract, Side.BUY, 1, opening=True), session.close - timedelta(minutes=30))
    assert late.status is OrderStatus.REJECTED and "12:30" in (late.reject_reason or "")
    assert not broker.sync(session.close - timedelta(minutes=16))
    liquidated = broker.sync(session.close - timedelta(minutes=15))
    assert [f.liquidation for u in liquidated for f in u.fills] == [True]
    assert broker.positions() == []


def test_duplicate_client_order_id_is_refused_and_sells_need_a_position() -> None:
    day = sessions_between(date(2026, 3, 2), date(2026, 3, 2))[0]
    market = SimMarket(SyntheticWorld(1))
    broker = SimBroker(market, cash=1e6)
    contract = OptionContract("SPY", day.day, round(market.spot("SPY", day.at(90))) + 4, Right.PUT)
    assert (
        broker.submit(OrderRequest("x", contract, Side.BUY, 1, opening=True), day.at(90)).status is OrderStatus.FILLED
    )
    again = broker.submit(OrderRequest("x", contract, Side.BUY, 1, opening=True), day.at(91))
    assert again.status is OrderStatus.REJECTED and "unique" in (again.reject_reason or "")
    short = broker.submit(OrderRequest("y", contract, Side.SELL, 5, opening=False), day.at(92))
    assert short.status is OrderStatus.REJECTED
    deep = OptionContract("SPY", day.day, contract.strike - 25, Right.CALL)  # its ask never nears a cent
    limit = broker.submit(
        OrderRequest("z", deep, Side.BUY, 1, opening=True, order_type="limit", limit_price=0.01), day.at(93)
    )
    assert limit.status is OrderStatus.ACCEPTED and not limit.fills
    at_close = {u.client_order_id: u for u in broker.sync(day.close)}
    assert at_close["z"].status is OrderStatus.EXPIRED, "DAY orders expire at the close"
    liquidation = [u for cid, u in at_close.items() if cid.startswith("liquidation-")]
    assert len(liquidation) == 1 and liquidation[0].fills[0].liquidation
