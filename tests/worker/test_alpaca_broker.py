"""The Alpaca broker adapter and the cycle's submit path, through real alpaca-py clients
against the local fake Alpaca, with injected faults."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.types import OrderRequest, OrderStatus, Side
from db.models import Order
from tests.alpaca_helpers import atm_call, buy, clients_for, fake_alpaca, intent, paper_runtime
from tests.fake_alpaca import SECRET, FakeAlpacaServer, alpaca_env
from worker.adapters.alpaca_broker import AlpacaBroker
from worker.adapters.alpaca_http import PAPER_TRADING_URL as ALPACA
from worker.adapters.alpaca_http import AlpacaSettings, BrokerUnavailableError, RequestBudget, SettingsError
from worker.book.reconcile import Reconciler

FAULTS = ["504_after_accept", "reset_after", "stall_after", "429", "500", "reset_before", "stall_before"]


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with fake_alpaca(cash=10_000_000.0) as srv:
        srv.state.stall_s = 0.5
        yield srv


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_submit_is_looked_up_never_resent(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch, ALPACA_TIMEOUT_S="0.3")
    server.state.fault("POST /v2/orders", fault)
    request = buy(server, f"cid-{fault}")
    upd = rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent()).update
    assert upd is not None
    accepted = fault in ("504_after_accept", "reset_after", "stall_after")
    assert server.state.post_attempts[request.client_order_id] == 1  # alpaca-py's retry is off
    assert len(server.state.orders_for(request.client_order_id)) == (1 if accepted else 0)
    assert upd.status is (OrderStatus.FILLED if accepted else OrderStatus.REJECTED)
    with rt.engine.connect() as conn:
        row = conn.execute(select(Order).where(Order.client_order_id == request.client_order_id)).mappings().one()
    assert row["status"] == upd.status.value
    assert rt.cycle.book.open_count() == (1 if accepted else 0)


SUBMITS = 400  # each fault is a real timeout or reset: 400 submits take about 25 s


def test_hundreds_of_submits_with_30pct_faults_make_no_duplicate_and_no_long_call(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeout = 0.2
    rt = paper_runtime(
        server, db_url, monkeypatch, ALPACA_TIMEOUT_S=str(timeout), ALPACA_MAX_REQUESTS_PER_MINUTE="100000"
    )
    server.state.random_faults = (0.30, [*FAULTS, "partial"], random.Random(11))
    server.state.fault("GET /v2/orders:by_client_order_id", "stall_before", times=3)  # lookups time out too
    assert rt.clients is not None
    requests = [buy(server, f"bulk-{i:04d}", qty=2) for i in range(SUBMITS)]
    for request in requests:
        rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    state = server.state
    assert max(state.post_attempts.values()) == 1
    duplicates = [r.client_order_id for r in requests if len(state.orders_for(r.client_order_id)) > 1]
    assert duplicates == []
    with rt.engine.connect() as conn:
        rows = {r["client_order_id"]: r for r in conn.execute(select(Order)).mappings()}
    # where the lookup after a failed submit also timed out (a busy machine, 0.2 s), the order's
    # fate is unknown: it stays pending, and the reconciliation settles it from the broker's side
    unknown = [cid for cid, row in rows.items() if row["status"] == "pending"]
    assert all(rows[cid]["reject_reason"].startswith("unknown: submit failed") for cid in unknown), unknown
    assert all("lookup failed" in rows[cid]["reject_reason"] for cid in unknown), unknown
    assert unknown, "the first lookups timed out: their orders are unknown until the reconciliation"
    state.random_faults = None
    Reconciler(rt.cycle).run(state.now)
    with rt.engine.connect() as conn:
        rows = {r["client_order_id"]: r for r in conn.execute(select(Order)).mappings()}
    at_broker = sum(1 for r in requests if state.orders_for(r.client_order_id))
    assert 0.65 * SUBMITS < at_broker < SUBMITS  # faults that stop an order before the broker did happen
    for r in requests:  # the database agrees with the broker about every single order
        found = state.orders_for(r.client_order_id)
        row = rows[r.client_order_id]
        if not found:
            assert row["status"] == "rejected"
        else:
            assert row["status"] in ("filled", "partially_filled")
            assert row["filled_qty"] == int(found[0]["filled_qty"])
    stats = rt.clients.session.stats
    assert stats.calls > SUBMITS
    assert stats.timeouts == {(timeout, timeout)}, "every call went out with the timeout"


def test_a_reused_client_order_id_returns_the_existing_order(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server))
    request = buy(server, "same-id")
    first = broker.submit(request, server.state.now)
    again = broker.submit(request, server.state.now)
    assert first.status is OrderStatus.FILLED and len(first.fills) == 1
    assert again.broker_order_id == first.broker_order_id and again.fills == []  # no fill booked twice
    assert len(server.state.orders_for("same-id")) == 1


def test_partial_fills_arrive_as_increments(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server))
    server.state.fault("POST /v2/orders", "partial")
    request = buy(server, "partial-1", qty=4)
    first = broker.submit(request, server.state.now)
    assert first.status is OrderStatus.PARTIALLY_FILLED and [f.qty for f in first.fills] == [2]
    assert broker.sync(server.state.now) == []  # nothing new: nothing reported again
    server.state.advance(1)
    later = broker.sync(server.state.now)
    assert [(u.status, [f.qty for f in u.fills]) for u in later] == [(OrderStatus.FILLED, [2])]
    order = server.state.orders_for("partial-1")[0]
    total = sum(f.qty * f.price for f in first.fills + later[0].fills)
    assert total / 4 == pytest.approx(float(order["filled_avg_price"]), abs=1e-4)


def test_stop_cancels_closes_and_reads_back_flat(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server))
    broker.submit(buy(server, "open-1", qty=3), server.state.now)
    contract = atm_call(server)
    resting = OrderRequest("rest-1", contract, Side.BUY, 1, True, "limit", 0.01)  # far below the ask: rests
    assert broker.submit(resting, server.state.now).status is OrderStatus.ACCEPTED
    updates = broker.close_all(server.state.now)
    assert broker.positions() == [] and server.state.positions == {}
    statuses = {u.client_order_id: u.status for u in updates}
    assert statuses["rest-1"] is OrderStatus.CANCELED
    closes = [u for u in updates if u.fills]
    assert [f.qty for u in closes for f in u.fills] == [3]
    assert not any(f.liquidation for u in closes for f in u.fills)  # our stop, not the broker's own


def test_alpaca_py_does_not_retry_and_errors_name_the_call(server: FakeAlpacaServer) -> None:
    broker = AlpacaBroker(clients_for(server))
    server.state.fault("GET /v2/account", "429")
    with pytest.raises(BrokerUnavailableError, match="get_account"):
        broker.account()
    assert server.state.requests.count(("GET", "/v2/account")) == 1
    server.state.fault("GET /v2/positions", "stall_before")
    with pytest.raises(BrokerUnavailableError, match="get_all_positions"):
        broker.positions()


def test_the_request_budget_stops_calls_before_they_leave(server: FakeAlpacaServer) -> None:
    clients = clients_for(server, ALPACA_MAX_REQUESTS_PER_MINUTE="5")
    broker = AlpacaBroker(clients)
    for _ in range(5):
        broker.account()
    before = len(server.state.requests)
    with pytest.raises(BrokerUnavailableError, match="budget"):
        broker.account()
    assert len(server.state.requests) == before
    with pytest.raises(SettingsError, match="200"):
        AlpacaSettings.from_env("paper", alpaca_env(ALPACA, ALPACA_MAX_REQUESTS_PER_MINUTE="300"))
    budget = RequestBudget(3)
    for _ in range(3):
        budget.acquire(0.0)
    assert budget.used_last_minute() == 3


def test_secrets_stay_out_of_logs_and_the_database(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = paper_runtime(server, db_url, monkeypatch)
    broker = rt.broker
    broker.account()
    server.state.fault("GET /v2/account", "500")
    with pytest.raises(BrokerUnavailableError):
        broker.account()
    rt.journal.flush()
    assert SECRET not in caplog.text
    assert SECRET.encode() not in Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert "secret" not in repr(rt.clients.settings if rt.clients else "")
