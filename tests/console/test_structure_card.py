"""An open iron condor on the Overview: its legs, credit, maximum loss and gain, breakevens and
payoff at expiry, from the trade row the worker wrote (AppTest on a real SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.structures.payoff import payoff
from tests.conftest import ACTIVE_PARAMS, run_until_open_position, with_params
from tests.console_helpers import open_page
from worker.runtime import RunOptions, build_runtime


def test_an_open_condor_shows_its_legs_risk_and_payoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'condor.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="iron_condor", policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="condor")
    now = run_until_open_position(rt)
    rt.cycle.run(now)  # one more cycle marks it
    rt.journal.flush()
    pos = next(iter(rt.cycle.book.multi.open.values()))
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
