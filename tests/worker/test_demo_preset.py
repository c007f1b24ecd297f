"""A first run shows trading, honestly: `make run`'s worker starts a fresh database on the demo
preset (the rule baseline decides, every threshold at its default), labelled as such in the
console with the RL model one click away; a database that is not fresh is never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.params import TradingParams
from db.migrate import upgrade
from db.presets import DEMO_AUTHOR, DEMO_TRADES_PER_DAY
from tests.console_helpers import demo_database, open_page, scalar
from tests.support import poll, start_worker


def test_a_fresh_database_trades_on_the_labelled_demo_preset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'first.db'}"
    upgrade(url)
    worker = start_worker(url, "--demo-preset", speed="3000")
    try:
        poll(url, "SELECT count(*) FROM trade", lambda n: n >= 1, timeout_s=300, proc=worker)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    author, values = (
        scalar(url, "SELECT author FROM paramversion WHERE id = 2"),
        json.loads(str(scalar(url, 'SELECT "values" FROM paramversion WHERE id = 2'))),
    )
    assert author == DEMO_AUTHOR and values["policy_mode"] == "rules"
    assert values["max_trades_per_symbol_day"] == DEMO_TRADES_PER_DAY
    defaults = TradingParams().model_dump(mode="json")
    changed = {"policy_mode", "max_trades_per_symbol_day"}
    assert {k: v for k, v in values.items() if k not in changed} == {
        k: v for k, v in defaults.items() if k not in changed
    }, "no other threshold is lowered"

    restarted = start_worker(url, "--demo-preset", speed="3000")
    try:
        poll(url, "SELECT count(*) FROM workerstatus WHERE stopped = 0", lambda n: n == 1, proc=restarted)
    finally:
        restarted.terminate()
        restarted.wait(timeout=60)
    assert scalar(url, "SELECT count(*) FROM paramversion") == 2, "a used database keeps its versions"

    at = open_page(url, "overview", monkeypatch)
    shown = [i.value.replace("\\", "") for i in at.info]  # the note is shown as text: markdown escaped
    assert any("Demo preset (version 2)" in v and "policy_mode rules" in v for v in shown)
    assert any(f"max_trades_per_symbol_day is {DEMO_TRADES_PER_DAY}" in v for v in shown)
    at.button(key="leave_demo").click().run()
    assert scalar(url, "SELECT json_extract(\"values\", '$.policy_mode') FROM paramversion WHERE id = 3") == "rl"
    assert not any("Demo preset" in i.value for i in at.info)


def test_the_demo_keeps_trading_through_each_session(tmp_path: Path) -> None:
    """At 60x a session lasts 6.5 real minutes: on the demo preset entries keep coming into the
    last third of each session, so `make run` shows life for as long as it runs (on the default
    cap of 5 a symbol, the first ninety seconds used it up)."""
    from datetime import UTC, date

    from core.calendar import session_for
    from worker.offline.backtest import run_backtest
    from worker.runtime import RunOptions

    url = demo_database(tmp_path)
    days = [date(2025, 11, 24), date(2025, 11, 25), date(2025, 11, 26)]
    run_backtest(RunOptions(db=url, seed=7, flush_every=50), start=days[0], end=days[-1])
    for day in days:
        session = session_for(day)
        assert session is not None
        late = session.open + (session.close - session.open) * 2 / 3
        utc = (
            late.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            session.close.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
        count = scalar(url, "SELECT count(*) FROM trade WHERE entry_time >= :a AND entry_time < :b", a=utc[0], b=utc[1])
        assert count, f"{day}: no entry in the last third of the session"
