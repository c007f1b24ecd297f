"""The newcomer's first hour (issue 34.4): the Overview says what the demo has measured, its P&L
after costs on real sessions from the figures file (with how it was priced and in or out of
sample), and says plainly when there is no figures file; the Models page repeats the shipped
model's rerun from the same file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.figures import Figures, Section, to_json
from db.presets import DEMO_TRADES_PER_DAY
from tests.console_helpers import demo_database, open_page

SAMPLE = "out of sample: the held-out tail, 2026-02-20..2026-03-19 (20 sessions), which nothing was fitted on"
PRICED = "by the model on the real 1-minute bars of SPY and QQQ"


def _figures(path: Path) -> Path:
    demo = Section(
        "demo", "The demo preset", "python bench/figures.py --only demo", SAMPLE, PRICED,
        ["policy", "trades", "P&L"], [["rules", "87", "-25,015"]], "", 1.0,
        {"pnl": -25015.0, "pnl_lo": -64014.0, "pnl_hi": -1867.0, "band_lo": -27000.0, "band_hi": -20000.0,
         "trades": 87, "win_rate": 0.33, "sessions": 20, "start": "2026-02-20", "end": "2026-03-19",
         "policy_mode": "rules", "max_trades_per_symbol_day": DEMO_TRADES_PER_DAY},
    )  # fmt: skip
    shipped = Section(
        "shipped_model", "The shipped model", "python -m worker.evaluate --held-out", SAMPLE, PRICED,
        ["policy", "trades", "P&L"], [["rl (the default)", "0", "0 [0, 0]"], ["rl@0.50 (same model)", "31", "-9,876"]],
    )  # fmt: skip
    path.write_text(to_json(Figures("2026-12-07 23:10 UTC", "abc1234", "make figures", 600.0, [demo, shipped])))
    return path


def _said(at: object) -> list[str]:
    return [e.value.replace("\\", "").replace("\u2060", "") for e in (*at.caption, *at.markdown, *at.info)]  # type: ignore[attr-defined]


def test_the_overview_says_what_the_demo_measured_and_when_nothing_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = demo_database(tmp_path)
    monkeypatch.setenv("FIGURES_FILE", str(_figures(tmp_path / "figures.json")))
    said = _said(open_page(url, "overview", monkeypatch))
    measured = [v for v in said if v.startswith("Measured:")]
    assert len(measured) == 1, said
    text = measured[0]
    assert f"max_trades_per_symbol_day {DEMO_TRADES_PER_DAY}" in text and "policy_mode rules" in text
    assert "made -25,015 after costs on 100,000 over 20 real sessions" in text
    assert "95% interval -64,014 to -1,867" in text and "87 trades" in text
    assert SAMPLE in text and PRICED in text and "commit abc1234" in text
    assert "loses money after costs" in text, "an interval wholly below zero is said as a loss"

    monkeypatch.setenv("FIGURES_FILE", str(tmp_path / "missing.json"))
    said = _said(open_page(url, "overview", monkeypatch))
    assert any(v.startswith("Not measured on this checkout: there is no figures file (missing.json)") for v in said)
    assert not any(v.startswith("Measured:") for v in said)


def test_the_models_page_repeats_the_shipped_models_rerun_from_the_figures_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODEL_PATH", raising=False)
    monkeypatch.setenv("FIGURES_FILE", str(_figures(tmp_path / "figures.json")))
    said = _said(open_page(f"sqlite:///{tmp_path / 'fresh.db'}", "models", monkeypatch))
    rerun = [v for v in said if v.startswith("Rerun by make figures")]
    assert len(rerun) == 1, said
    assert "rl: 0 trades, P&L 0 [0, 0]" in rerun[0] and "rl@0.50: 31 trades, P&L -9,876" in rerun[0]
    assert SAMPLE in rerun[0] and PRICED in rerun[0]
