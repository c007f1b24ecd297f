"""Fixtures for the Alpaca tests: the fake server on the simulated market, and real clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from core.calendar import session_for
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from tests.fake_alpaca import FakeAlpacaServer, FakeAlpacaState, alpaca_env
from worker.alpaca_http import AlpacaClients, AlpacaSettings, make_clients

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
