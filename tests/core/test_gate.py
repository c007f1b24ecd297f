"""The go-live gate's criteria: a record that meets every one passes, and each criterion failing in
turn fails the gate by name, with its value and what is missing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.gate import PaperRecord, ParityDayFigure, evaluate_gate, expectancy_interval
from core.params import TradingParams

PARAMS = TradingParams(gate_min_paper_sessions=4, gate_min_paper_trades=12, gate_min_parity_days=2)


def good_record() -> PaperRecord:
    days = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]
    pnls = [120.0, 80.0, -40.0, 150.0, 90.0, -30.0, 110.0, 60.0, 95.0, -20.0, 130.0, 70.0, 85.0, 100.0]
    equity = [100_000.0]
    for p in pnls:
        equity.append(equity[-1] + p)
    return PaperRecord(
        strategy="long_option",
        param_version=3,
        model_version="rules-1",
        sessions=days,
        trade_pnls=pnls,
        session_pnls=[200.0, 200.0, 200.0, 200.0, 200.0],
        equity=equity,
        parity=[ParityDayFigure("2026-03-03", 780, 770, 0.8), ParityDayFigure("2026-03-04", 780, 775, 1.1)],
        incidents=[],
    )


def test_a_record_that_meets_every_criterion_passes() -> None:
    report = evaluate_gate(good_record(), PARAMS)
    assert report.passed, report.summary()
    assert report.summary() == "go-live gate met: every criterion passes"
    assert len(report.criteria) == 9


FAILURES = {
    "paper sessions": lambda r: replace(r, sessions=r.sessions[:3], session_pnls=r.session_pnls[:3]),
    "paper trades": lambda r: replace(r, trade_pnls=r.trade_pnls[:10]),
    "parity: decisions reproduced": lambda r: replace(
        r, parity=[ParityDayFigure("2026-03-03", 780, 600, 0.8), ParityDayFigure("2026-03-04", 780, 775, 1.1)]
    ),
    "parity: median fill cost vs the simulator": lambda r: replace(
        r, parity=[ParityDayFigure("2026-03-03", 780, 770, 6.0), ParityDayFigure("2026-03-04", 780, 775, 5.0)]
    ),
    "expectancy per trade (95% interval, lower end)": lambda r: replace(
        r,
        trade_pnls=[1500.0, 1500.0] + [-150.0] * 12,  # PF 1.67, but two wins carry it all
    ),
    "max drawdown": lambda r: replace(r, equity=[100_000.0, 120_000.0, 90_000.0, 121_000.0]),
    "profit factor": lambda r: replace(r, trade_pnls=[100.0, -80.0] * 300),  # a steady edge, PF 1.25
    "no open incident in the last 5 sessions": lambda r: replace(
        r, incidents=[("2026-03-05", "reconcile_mismatch", "broker holds 2 SPY... the database 0")]
    ),
    "versions that earned the record": lambda r: replace(
        r, sessions=[], trade_pnls=[], session_pnls=[], other_versions=["parameter version 2, model m1: 40 trades"]
    ),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_each_criterion_failing_alone_fails_the_gate_by_name(name: str) -> None:
    record = FAILURES[name](good_record())
    report = evaluate_gate(record, PARAMS)
    assert not report.passed
    failing = [c.name for c in report.failing]
    assert name in failing, failing
    if name != "versions that earned the record":  # an empty record also fails the counts
        assert failing == [name], f"only {name} should fail, got {failing}"
    bad = next(c for c in report.failing if c.name == name)
    assert bad.missing, "a failing criterion says what is missing"
    assert name in report.summary()


def test_an_empty_record_fails_every_criterion_that_needs_evidence() -> None:
    empty = PaperRecord("long_option", 1, "rules-1", [], [], [], [], [], [])
    report = evaluate_gate(empty, TradingParams())
    assert {c.name for c in report.failing} == {c.name for c in report.criteria} - {
        "no open incident in the last 5 sessions"
    }
    sessions = next(c for c in report.criteria if c.name == "paper sessions")
    assert sessions.missing == "20 more paper sessions"


def test_the_expectancy_interval_is_seeded_and_brackets_the_mean() -> None:
    pnls = good_record().trade_pnls
    first, again = expectancy_interval(pnls), expectancy_interval(pnls)
    assert first == again and first is not None
    assert first[0] < sum(pnls) / len(pnls) < first[1]
    assert expectancy_interval([5.0]) is None
