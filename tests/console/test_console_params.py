"""Live tuning through the Parameters page: a refused edit names the field and the rule and
stores nothing; a valid one becomes active and the worker's next cycle runs on it; revert works."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.calendar import session_for
from tests.conftest import TEST_DAY
from tests.console_helpers import open_page, scalar
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
