"""An open iron condor on the Overview: its legs, credit, maximum loss and gain, breakevens and
payoff at expiry, from the trade row the worker wrote (AppTest on a real SQLite file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.structures.payoff import payoff
from tests.conftest import ACTIVE_PARAMS, run_until_open_position, with_params
from tests.console_helpers import metric, open_page, scalar
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions, build_runtime


def test_an_open_condor_shows_its_legs_risk_and_payoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'condor.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="iron_condor", policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="condor")
    now = run_until_open_position(rt)
    rt.cycle.run(now)  # one more cycle marks it
    rt.journal.flush()
    pos = next(iter(rt.cycle.book.structures()))
    rt.engine.dispose()
    at = open_page(url, "overview", monkeypatch)
    text = " ".join(m.value for m in at.markdown)
    assert pos.structure.label in text and "credit" in text
    shape = payoff(pos.structure, round(pos.entry_net, 4), pos.qty_open)
    assert f"max loss {shape.max_loss:,.2f}" in text and f"max gain {shape.max_gain:,.2f}" in text
    for b in shape.breakevens:
        assert f"{b:.2f}" in text
    for leg in pos.structure.legs:
        assert leg.contract.symbol in text
    assert len(at.get("plotly_chart")) >= 2, "the payoff at expiry is drawn"


def test_the_trades_page_filters_and_breaks_down_by_structure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    with_params(url, **ACTIVE_PARAMS, policy_mode="rules")  # long options first, then condors
    run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 24), end=date(2025, 11, 24))
    with_params(url, **ACTIVE_PARAMS, policy_mode="rules", strategy="iron_condor")
    run_backtest(RunOptions(db=url, seed=3, flush_every=50), start=date(2025, 11, 25), end=date(2025, 11, 25))
    at = open_page(url, "trades", monkeypatch)
    kinds = set(at.multiselect(key="f_structure").options)
    assert "iron_condor" in kinds and kinds & {"long_call", "long_put"}, kinds
    assert any("P&L by structure" in str(c.proto.spec) for c in at.get("plotly_chart"))
    at.multiselect(key="f_structure").set_value(["iron_condor"]).run()
    condors = scalar(url, "SELECT count(*) FROM trade WHERE status = 'closed' AND structure = 'iron_condor'")
    assert metric(at, "Trades") == f"{condors:,}" and condors
