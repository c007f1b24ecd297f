"""The Parity page lists the stored days worst first and shows one day's fills and differences."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.parity import DecisionAgreement, DecisionDifference, FillComparison, FillOutcome, ParityDay
from db.control import bootstrap
from db.engine import make_engine
from db.migrate import upgrade
from tests.console_helpers import metric, open_page
from worker.offline.parity import store

T = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _fill(price_live: float | None, price_sim: float | None, outcome: FillOutcome) -> FillComparison:
    return FillComparison(
        T, "SPY260302C00600000", "buy", True, "rule_entry", 1 if price_live else 0, price_live,
        1 if price_sim else 0, price_sim, outcome,
    )  # fmt: skip


def test_days_are_listed_worst_first_and_a_day_shows_its_fills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'parity.db'}"
    upgrade(url)
    engine = make_engine(url)
    bootstrap(engine)
    good = ParityDay(date(2026, 3, 2), DecisionAgreement(200, 200, []), [_fill(1.02, 1.00, FillOutcome.BOTH)])
    bad = ParityDay(
        date(2026, 3, 3),
        DecisionAgreement(200, 150, [DecisionDifference(T, "QQQ", "buy_call/buy_call//", "hold/hold//")]),
        [_fill(1.10, 1.00, FillOutcome.BOTH), _fill(1.0, None, FillOutcome.LIVE_ONLY)],
    )
    store(engine, good, "broker", "rules")
    store(engine, bad, "broker", "rules")
    at = open_page(url, "parity", monkeypatch)
    listed = at.dataframe[0].value
    assert listed["day"].tolist() == ["2026-03-03", "2026-03-02"], "the worse day comes first"
    assert at.selectbox(key="parity_day").value == "2026-03-03"
    assert metric(at, "Decisions agree") == "75.0%"
    assert metric(at, "Filled on one side only") == "1"
    assert metric(at, "Median live minus sim") == "$+10.00/contract"
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="parity_day").set_value("2026-03-02").run()
    assert metric(at, "Decisions agree") == "100.0%" and metric(at, "Median live minus sim") == "$+2.00/contract"
