"""The Risk page and the Overview show the book's greeks and shock grid for the position the
worker holds; the Readiness page shows each criterion of the go-live gate and its override form
(refused field by field, storing nothing); live trading with a failing gate puts a banner on every
page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from core.risk.book import book_greeks
from db import reads
from db.control import save_param_version
from db.models import WorkerStatus
from tests.conftest import EXITS_OFF, run_until_open_position, with_params
from tests.console_helpers import SEED_PARAMS, metric, open_page, rows
from tests.go_live_helpers import SMALL_GATE, seed_paper_record
from worker.runtime import Runtime


def test_the_risk_page_and_the_overview_show_the_books_greeks_and_shock_grid(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_param_version(runtime.engine, {**SEED_PARAMS, **EXITS_OFF}, author="test")
    now = run_until_open_position(runtime)
    runtime.cycle.run(now)
    runtime.cycle.journal.flush()
    legs = runtime.cycle.book.held_legs()
    assert legs
    clock = reads.market_clock(runtime.engine).now
    spots = {leg.contract.underlying: runtime.market.spot(leg.contract.underlying, now) for leg in legs}
    vix = float(rows(str(runtime.engine.url), "SELECT vix FROM decision ORDER BY id DESC LIMIT 1")[0][0])  # type: ignore[arg-type]
    close = runtime.market.session(now)
    assert close is not None
    expected = book_greeks(legs, spots, vix, (close.close - clock).total_seconds() / 60.0)
    for page in ("risk", "overview"):
        at = open_page(str(runtime.engine.url), page, monkeypatch)
        shown = float(metric(at, "Net delta $ / 1%").replace(",", ""))
        assert shown == pytest.approx(expected.delta_usd, abs=max(2.0, abs(expected.delta_usd) * 0.01))
        assert float(metric(at, "Theta $ / 10 min").replace(",", "")) < 0, "a long option decays"
    at = open_page(str(runtime.engine.url), "risk", monkeypatch)
    assert len(at.get("plotly_chart")) == 1, "the shock grid"
    assert any("VaR and expected shortfall need ten recorded days" in m.value for m in at.markdown)
    assert any("Entry limits: net delta 25% of equity" in c.value for c in at.caption)


def test_readiness_shows_each_criterion_and_the_override_form_refuses_then_grants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    version = with_params(url, **{**SMALL_GATE, "gate_min_paper_sessions": 20})
    seed_paper_record(create_engine(url), version)
    at = open_page(url, "readiness", monkeypatch)
    assert at.error[0].value.startswith("go-live gate not met: paper sessions 3 (needs >= 20)")
    table = at.dataframe[0].value
    row = table[table["criterion"] == "paper sessions"].iloc[0]
    assert row["result"] == "FAIL" and row["missing"] == "17 more paper sessions" and row["n"] == 3
    assert set(table[table["criterion"] != "paper sessions"]["result"]) == {"pass"}
    at.text_area(key="override_reason").input("short")
    at.button(key="FormSubmitter:override_form-Grant override").click().run()
    assert any("Override refused: reason: a typed reason of at least 10 characters" in e.value for e in at.error)
    assert rows(url, "SELECT count(*) FROM live_override") == [(0,)]
    at.text_area(key="override_reason").input("two sessions at a tenth, to see real fills")
    at.number_input(key="override_sessions").set_value(2)
    at.button(key="FormSubmitter:override_form-Grant override").click().run()
    assert rows(url, "SELECT who, sessions, size_cap, model_version FROM live_override") == [
        ("alice", 2, 0.1, "rules-1")
    ]
    assert rows(url, "SELECT count(*) FROM event WHERE code = 'live_override'") == [(1,)]


def test_a_record_that_meets_the_gate_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    seed_paper_record(create_engine(url), with_params(url, **SMALL_GATE))
    at = open_page(url, "readiness", monkeypatch)
    assert at.success[0].value == "go-live gate met: every criterion passes"


def test_live_trading_with_a_failing_gate_shows_a_banner_on_every_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **{**SMALL_GATE, "gate_min_paper_sessions": 20})
    engine = create_engine(url)
    seed_paper_record(engine, version)
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(WorkerStatus(run_id="worker-live", pid=1, host="h", mode="live", started_at=now, heartbeat_at=now))
        s.commit()
    for page in ("overview", "trades", "parameters"):
        at = open_page(url, page, monkeypatch)
        banners = [e.value for e in at.error if e.value.startswith("LIVE trading while the go-live gate is not met")]
        assert banners, f"{page}: no banner"
    with Session(engine) as s:
        status = s.get(WorkerStatus, "worker")
        assert status is not None
        status.mode = "paper"
        s.add(status)
        s.commit()
    at = open_page(url, "overview", monkeypatch)
    assert not [e.value for e in at.error if e.value.startswith("LIVE trading")]
