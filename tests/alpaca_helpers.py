"""Fixtures for the Alpaca tests: the fake server on the simulated market, and real clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import text

from core.calendar import session_for
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.sizing import collar_price
from core.types import OptionContract, OrderRequest, Reason, Side
from tests.fake_alpaca import FakeAlpacaServer, FakeAlpacaState, alpaca_env
from worker.adapters.alpaca_http import AlpacaClients, AlpacaSettings, make_clients
from worker.book.intent import EntryIntent
from worker.runtime import RunOptions, Runtime, build_runtime

SESSION_DAY = datetime(2025, 11, 24).date()  # a regular Monday session


def session_time(hour: int, minute: int) -> datetime:
    session = session_for(SESSION_DAY)
    assert session is not None
    return session.open.replace(hour=hour, minute=minute)


@contextmanager
def fake_alpaca(
    start: datetime | None = None, seed: int = 7, cash: float = 100_000.0, fee: float = 0.0
) -> Iterator[FakeAlpacaServer]:
    """A running fake Alpaca whose prices come from the seeded synthetic market."""
    market = SimMarket(SyntheticWorld(seed), source="fake-alpaca")
    state = FakeAlpacaState(market, start or session_time(10, 0), cash, fee)
    with FakeAlpacaServer(state) as server:
        yield server


def clients_for(server: FakeAlpacaServer, **env: str) -> AlpacaClients:
    return make_clients(AlpacaSettings.from_env("paper", alpaca_env(server.url, **env)))


def paper_runtime(server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Runtime:
    for key, value in alpaca_env(server.url, **env).items():
        monkeypatch.setenv(key, value)
    return build_runtime(RunOptions(mode="paper", db=db_url, model=None), "worker")


def atm_call(server: FakeAlpacaServer) -> OptionContract:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    i = int(abs(chain.strikes - chain.spot).argmin())
    return chain.quote(i).contract


def intent() -> EntryIntent:
    return EntryIntent(Reason("test_entry", "test"), 0.9, "normal", 15.0, "m", 1, 0.1, 0.0, 1)


def buy(server: FakeAlpacaServer, cid: str, qty: int = 1) -> OrderRequest:
    contract = atm_call(server)
    ask = server.state.quote(contract.symbol)[1]
    return OrderRequest(cid, contract, Side.BUY, qty, True, "limit", collar_price(ask, True, 3.0))


def rt_rows(rt: Runtime, sql: str) -> list[tuple[object, ...]]:
    """The rows of `sql` in the runtime's database, as tuples."""
    with rt.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]
