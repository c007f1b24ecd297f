"""What a phone needs from the pages, checked in AppTest (the layout itself in Chromium at 390x844:
test_phone_browser.py): the demo preset said once, from its own values; the Decisions filters
closed; the shipped model's out-of-sample record on the Models page of a fresh database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.shipped_model import metadata_path
from core.params import TradingParams
from db.control import bootstrap
from db.engine import make_engine
from db.migrate import upgrade
from db.presets import DEMO_TRADES_PER_DAY, apply_demo_preset
from tests.console_helpers import open_page, seed_database


def _demo_database(tmp_path: Path) -> str:
    """A fresh database on the demo preset, as `make run` starts one."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    bootstrap(engine)  # the defaults: the only version
    assert apply_demo_preset(engine) is not None
    engine.dispose()
    return url


def test_the_demo_preset_says_what_it_changes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Overview names the rule baseline and its raised entry cap with the preset's own values;
    neither the Overview nor Parameters says the preset's text twice."""
    url = _demo_database(tmp_path)
    default_cap = TradingParams().max_trades_per_symbol_day
    for page in ("overview", "parameters"):
        at = open_page(url, page, monkeypatch)
        shown = [e.value.replace("\\", "") for e in (*at.info, *at.markdown)]
        banner = [v for v in shown if "Demo preset" in v]
        assert len(banner) == 1 and banner[0].count("Demo preset") == 1, (page, banner)
        assert "rule baseline decides (policy_mode rules)" in banner[0]
        assert f"max_trades_per_symbol_day is {DEMO_TRADES_PER_DAY} (default {default_cap})" in banner[0]
        assert "Every other parameter is its default." in banner[0]
        assert sum("rule baseline decides" in v for v in shown) == 1, f"{page}: the preset said twice"


def test_the_decisions_filters_start_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    seed_database(url, days=1)
    at = open_page(url, "decisions", monkeypatch)
    filters = next(e for e in at.expander if e.label == "Filters")
    assert filters.proto.expanded is False, "open, the filters fill a phone's first screen"


def test_models_shows_the_shipped_models_out_of_sample_record_on_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No evaluation stored yet: the record comes from the metadata beside the shipped zip."""
    monkeypatch.delenv("MODEL_PATH", raising=False)
    meta = json.loads(metadata_path().read_text())
    selection = meta["metrics"]["selection"]
    at = open_page(f"sqlite:///{tmp_path / 'fresh.db'}", "models", monkeypatch)
    assert any(s.value == "The shipped model's out-of-sample record" for s in at.subheader)
    said = next(m.value.replace("\\", "") for m in at.markdown if meta["model_version"] in m.value.replace("\\", ""))
    assert "Out of sample" in said and "never trained on" in said and selection["verdict"] in said
    assert selection["evaluation_id"] in said
    table = next(d.value for d in at.dataframe if "P&L 95% interval" in d.value.columns)
    for row in selection["out_of_sample"]:
        shown = table[table["policy"] == row["policy"]].iloc[0]
        assert shown["days"] == row["days"] and shown["trades"] == row["trades"]
        assert shown["P&L"] == pytest.approx(row["pnl"])
        assert shown["P&L 95% interval"] == f"{row['pnl_lo']:,.0f} .. {row['pnl_hi']:,.0f}"
