"""What-if before applying: the Parameters page tries the edited, unsaved values on past sessions
in a background process, beside the active version; nothing is stored until Save. The command
line runs the same comparison."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import ACTIVE_PARAMS, with_params
from tests.console_helpers import open_page, scalar
from tests.support import ROOT
from worker.offline.whatif import run_whatif


def _versions(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM paramversion"))  # type: ignore[arg-type]


def test_an_unchanged_set_changes_nothing_and_a_stricter_one_trades_less(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with_params(url, **ACTIVE_PARAMS)
    stored = _versions(url)
    same = run_whatif(url, dict(ACTIVE_PARAMS), sessions=3)
    assert same.decisions > 0 and same.decisions_changed == 0 and replace(same.active, label="edited") == same.edited
    strict = run_whatif(url, {**ACTIVE_PARAMS, "min_confidence": 0.99}, sessions=3)
    assert strict.edited.trades < strict.active.trades and strict.decisions_changed > 0
    assert strict.edited.blocks.get("min_confidence", 0) > strict.active.blocks.get("min_confidence", 0)
    assert strict.first_changes and len(strict.sessions) == 3
    assert _versions(url) == stored, "a trial stores nothing in the worker's database"


def test_the_page_runs_the_edit_in_the_background_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'page.db'}"
    version = with_params(url, **ACTIVE_PARAMS)
    stored = _versions(url)
    at = open_page(url, "parameters", monkeypatch)
    at.number_input(key=f"v{version}_min_confidence").set_value(0.99).run()
    at.number_input(key="whatif_sessions").set_value(2).run()
    at.button(key="whatif_start").click().run()
    job = at.session_state["whatif_job"]
    deadline = time.monotonic() + 300  # a bound for a stuck run, never a speed assertion
    while not Path(job["out"]).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Path(job["out"]).exists(), "the background trial never wrote its result"
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "edited" in d.value.columns and "" in d.value.columns)
    figures = dict(zip(table[""], zip(table["active"], table["edited"], strict=True), strict=True))
    assert int(figures["Trades"][1].replace(",", "")) < int(figures["Trades"][0].replace(",", ""))
    result = json.loads(Path(job["out"]).read_text())
    assert f"{result['edited']['trades']:,}" == figures["Trades"][1]
    while json.loads(Path(job["out"]).read_text()).get("band") is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the comparison came first; the runs at the error's bounds follow
    at.run()
    band = json.loads(Path(job["out"]).read_text())["band"]
    assert set(band) == {"active", "edited"} and set(band["edited"]) == {"low", "high"}
    captions = [c.value for c in at.caption if c.value.startswith("Edited P&L")]
    assert captions and "at the calibration's error bounds" in captions[0] and "Options priced: model" in captions[0]
    assert _versions(url) == stored, "nothing is applied until Save"


def test_a_refused_set_cannot_be_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    version = with_params(url, **ACTIVE_PARAMS)
    at = open_page(url, "parameters", monkeypatch)
    at.number_input(key=f"v{version}_min_confidence").set_value(1.5).run()
    assert at.button(key="whatif_start").disabled
    assert any("Cannot try: `min_confidence`" in e.value for e in at.error)


def test_the_command_line_prints_both_sides(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with_params(url, **ACTIVE_PARAMS)
    params = tmp_path / "edited.json"
    params.write_text(json.dumps({**ACTIVE_PARAMS, "min_confidence": 0.99}))
    done = subprocess.run(
        [sys.executable, "-m", "worker.whatif", "--db", url, "--params", str(params), "--sessions", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "active" in done.stdout and "edited" in done.stdout and "decisions changed" in done.stdout
    assert "edited P&L" in done.stdout and "at the calibration's error bounds" in done.stdout
