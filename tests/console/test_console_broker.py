"""The console with a real broker (AppTest + the fake Alpaca): the stop flattens the account at
the broker itself while no worker runs, and live mode puts a red banner on every page."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from streamlit.testing.v1 import AppTest

from core.types import TradingState
from db.control import utcnow
from db.journal import Journal
from tests.alpaca_helpers import fake_alpaca
from tests.console_helpers import APP, PAGES
from tests.fake_alpaca import FakeAlpacaServer, alpaca_env


def record_worker_mode(url: str, mode: str) -> None:
    """What a worker's heartbeat leaves behind: its mode (then it stopped, or crashed)."""
    Journal(create_engine(url), "w1").heartbeat(mode, None, TradingState.ACTIVE, 0.0, utcnow(), stopped=True)


def _hold_an_option(server: FakeAlpacaServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SPY option position at the fake Alpaca, and the console's environment pointing at it."""
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    held = chain.quote(10).contract.symbol
    server.state.set_position(held, 3, 1.10)
    for key, value in alpaca_env(server.url).items():
        monkeypatch.setenv(key, value)
    return held


def test_the_stop_flattens_at_the_broker_while_the_worker_is_down(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_worker_mode(migrated, "paper")
    with fake_alpaca() as server:
        held = _hold_an_option(server, monkeypatch)
        monkeypatch.setenv("DATABASE_URL", migrated)
        monkeypatch.setenv("CONSOLE_OPERATOR", "alice")
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
        at.button(key="stop").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert server.state.positions == {}
        assert ("DELETE", f"/v2/positions/{held}") in server.state.requests  # only the traded underlyings
        assert any("Direct broker stop by alice" in s.value and "0 positions left" in s.value for s in at.success)
    with create_engine(migrated).connect() as conn:
        state = conn.execute(text("SELECT state, flatten FROM controlstate")).one()
        event = conn.execute(text("SELECT level, message FROM event WHERE code = 'console_broker_stop'")).one()
    assert tuple(state) == ("HALTED", 1)  # and the worker, when it comes back, finds the halt
    assert event[0] == "warning" and "0 positions left" in event[1]


def test_a_failed_direct_stop_says_so(migrated: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_worker_mode(migrated, "paper")
    with fake_alpaca() as server:
        held = _hold_an_option(server, monkeypatch)
        server.state.fault(f"DELETE /v2/positions/{held}", "500")
        monkeypatch.setenv("DATABASE_URL", migrated)
        at = AppTest.from_file(APP, default_timeout=30)
        at.run()
        at.button(key="stop").click().run()
    assert any("failed" in e.value for e in at.error)


@pytest.mark.parametrize("mode", ["live", "paper", "sim"])
def test_live_mode_shows_a_red_banner_on_every_page(migrated: str, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    record_worker_mode(migrated, mode)
    monkeypatch.setenv("DATABASE_URL", migrated)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    for page in PAGES:
        if page != "overview":
            at.switch_page(f"../../pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        banners = [e.value for e in at.error if "LIVE TRADING" in e.value]
        assert len(banners) == (1 if mode == "live" else 0), page
