"""A first run shows trading, honestly: `make run`'s worker starts a fresh database on the demo
preset (the rule baseline decides, every threshold at its default), labelled as such in the
console with the RL model one click away; a database that is not fresh is never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.params import TradingParams
from db.migrate import upgrade
from db.presets import DEMO_AUTHOR
from tests.console_helpers import open_page, scalar
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
    defaults = TradingParams().model_dump(mode="json")
    assert {k: v for k, v in values.items() if k != "policy_mode"} == {
        k: v for k, v in defaults.items() if k != "policy_mode"
    }, "no threshold is lowered"

    restarted = start_worker(url, "--demo-preset", speed="3000")
    try:
        poll(url, "SELECT count(*) FROM workerstatus WHERE stopped = 0", lambda n: n == 1, proc=restarted)
    finally:
        restarted.terminate()
        restarted.wait(timeout=60)
    assert scalar(url, "SELECT count(*) FROM paramversion") == 2, "a used database keeps its versions"

    at = open_page(url, "overview", monkeypatch)
    assert any("Demo preset (version 2)" in i.value and "policy_mode rules" in i.value for i in at.info)
    at.button(key="leave_demo").click().run()
    assert scalar(url, "SELECT json_extract(\"values\", '$.policy_mode') FROM paramversion WHERE id = 3") == "rl"
    assert not any("Demo preset" in i.value for i in at.info)
