"""Live tuning through the Parameters page: a refused edit names the field and the rule and
stores nothing; a valid one becomes active and the worker's next cycle runs on it; revert works;
while the worker trades live, Save says first what the go-live gate will do with the new version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from core.calendar import session_for
from db.go_live import grant_override
from db.models import Run, WorkerStatus
from tests.conftest import TEST_DAY, with_params
from tests.console_helpers import open_page, scalar
from tests.go_live_helpers import SMALL_GATE, seed_paper_record
from worker.runtime import Runtime


def _active(url: str) -> int:
    return int(scalar(url, "SELECT active_param_version FROM controlstate"))  # type: ignore[arg-type]


def _versions(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM paramversion"))  # type: ignore[arg-type]


def test_a_refused_edit_names_the_field_and_rule_and_stores_nothing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(runtime.engine.url)
    at = open_page(url, "parameters", monkeypatch)
    version, count = _active(url), _versions(url)
    at.number_input(key=f"v{version}_min_confidence").set_value(1.5).run()
    assert "min_confidence" in at.dataframe[0].value["parameter"].tolist()  # the diff, before saving
    at.text_input(key="params_note").input("too confident").run()
    at.button(key="params_save").click().run()
    errors = [e.value for e in at.error]
    assert errors and "`min_confidence`" in errors[0] and "less than or equal to 1" in errors[0]
    assert "nothing was stored" in errors[0]
    assert (_active(url), _versions(url)) == (version, count)


def test_a_cross_field_rule_is_refused_with_its_sentence(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(runtime.engine.url)
    at = open_page(url, "parameters", monkeypatch)
    version, count = _active(url), _versions(url)
    at.number_input(key=f"v{version}_iv_rank_min").set_value(99.0).run()
    at.button(key="params_save").click().run()
    assert any("`iv_rank_min` must be below iv_rank_max" in e.value for e in at.error)
    assert _versions(url) == count


def test_a_saved_edit_is_used_by_the_workers_next_cycle(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(runtime.engine.url)
    session = session_for(TEST_DAY)
    assert session is not None
    runtime.cycle.run(session.at(40))
    before = _active(url)
    at = open_page(url, "parameters", monkeypatch)
    assert at.button(key="params_save").disabled  # nothing changed yet
    at.number_input(key=f"v{before}_min_confidence").set_value(0.9).run()
    at.text_input(key="params_note").input("fewer, surer entries").run()
    at.button(key="params_save").click().run()
    assert not at.exception
    after = _active(url)
    assert after != before
    assert any(f"Saved version {after}" in s.value for s in at.success)
    with runtime.engine.connect() as conn:
        row = conn.execute(text("SELECT author, note, first_used_at, json_extract(\"values\", '$.min_confidence') "
                                "FROM paramversion WHERE id = :v"), {"v": after}).one()  # fmt: skip
    assert tuple(row) == ("alice", "fewer, surer entries", None, 0.9)
    assert at.text_input(key="params_note").value == "", "the note belongs to the saved version"

    runtime.cycle.run(session.at(41))  # the worker's next cycle
    runtime.cycle.journal.flush()
    with runtime.engine.connect() as conn:
        first_used = conn.execute(text("SELECT first_used_at FROM paramversion WHERE id = :v"), {"v": after}).scalar()
        stamped = conn.execute(text("SELECT param_version FROM decision ORDER BY id DESC LIMIT 2")).scalars().all()
    assert stamped == [after, after] and first_used is not None  # both symbols' decisions of that cycle
    at.run()
    assert any("first used it at" in c.value for c in at.caption)


def test_revert_makes_an_earlier_version_active_as_a_new_version(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(runtime.engine.url)
    original = _active(url)
    at = open_page(url, "parameters", monkeypatch)
    at.number_input(key=f"v{original}_max_contracts").set_value(7).run()
    at.button(key="params_save").click().run()
    edited = _active(url)
    at.selectbox(key="revert_to").set_value(original).run()
    at.button(key="revert").click().run()
    assert not at.exception
    newest = _active(url)
    assert newest not in (original, edited)
    with runtime.engine.connect() as conn:
        row = conn.execute(
            text("SELECT reverted_from, json_extract(\"values\", '$.max_contracts') FROM paramversion WHERE id = :v"),
            {"v": newest},
        ).one()
    assert tuple(row) == (original, 50)


def test_save_while_the_worker_trades_live_says_what_the_gate_will_do_before_saving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **SMALL_GATE)
    engine = create_engine(url)
    seed_paper_record(engine, version)  # the gate is met for the active version: it trades live at full size
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(Run(id="worker-live", kind="worker", mode="live", source="alpaca", started_at=now,
                  trading_host="api.alpaca.markets", args={"model_version": None}))  # fmt: skip
        s.add(WorkerStatus(run_id="worker-live", pid=1, host="h", mode="live", started_at=now, heartbeat_at=now))
        s.commit()
    grant_override(engine, who="ops", reason="a tenth, to see real fills", size_cap=0.1, sessions=2,
                   model_version="rules-1")  # fmt: skip
    at = open_page(url, "parameters", monkeypatch)
    assert not [w for w in at.warning if "Save makes" in w.value], "nothing to judge before an edit"
    reverting = [w.value for w in at.warning if w.value.startswith("The worker trades live; Revert stores version")]
    assert reverting and "will stop opening positions at once" in reverting[0], "a revert stores a new version too"
    at.number_input(key=f"v{version}_min_confidence").set_value(0.9).run()
    said = [w.value for w in at.warning if w.value.startswith("The worker trades live; Save makes this edit")]
    assert len(said) == 1, [w.value for w in at.warning]
    assert f"Save makes this edit version {version + 1}" in said[0]
    assert f"parameter version {version + 1} with model rules-1 has no paper record" in said[0]
    assert "paper sessions 0 (needs >= 3)" in said[0], "the gate's own criteria, from its report"
    assert f"override 1 covers parameter version {version} with model rules-1" in said[0]
    assert said[0].endswith("the worker will stop opening positions at once and return to paper at the next session.")
    assert _versions(url) == version, "said before anything is saved"
    with Session(engine) as s:
        status = s.get(WorkerStatus, "worker")
        assert status is not None
        status.mode = "paper"
        s.add(status)
        s.commit()
    at.run()
    assert not [w for w in at.warning if "The worker trades live" in w.value], "paper: the gate has nothing to say"
