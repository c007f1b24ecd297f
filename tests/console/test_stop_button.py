"""The console's stop button (Streamlit AppTest) makes the worker's next control tick halt and
flatten, leaving no open position; resuming needs a confirmation."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core.calendar import session_for
from db.control import save_param_version
from tests.conftest import TEST_DAY, run_until_open_position
from tests.console_helpers import APP
from worker.runtime import Runtime


def _open_a_position(runtime: Runtime) -> object:
    save_param_version(
        runtime.engine,
        {"min_confidence": 0.3, "cooldown_s": 0, "iv_rank_max": 100, "blocked_regimes": [], "max_open_positions": 2},
        author="test",
    )
    return run_until_open_position(runtime)


@pytest.fixture
def app(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", str(runtime.engine.url))
    monkeypatch.setenv("CONSOLE_OPERATOR", "alice")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception
    return at


def test_stop_button_halts_and_the_worker_flattens(runtime: Runtime, app: AppTest) -> None:
    now = _open_a_position(runtime)
    app.button(key="stop").click().run()
    assert not app.exception
    with runtime.engine.connect() as conn:
        state = conn.execute(text("SELECT state, flatten FROM controlstate")).one()
        audit = conn.execute(text("SELECT who, from_state, to_state, flatten, reason_code FROM controlevent")).all()
    assert tuple(state) == ("HALTED", 1)
    assert [tuple(a) for a in audit] == [("alice", "ACTIVE", "HALTED", 1, "operator_stop")]

    summary = runtime.control.tick(now)  # type: ignore[arg-type]
    assert summary and "positions closed" in summary
    assert runtime.broker.positions() == [] and runtime.cycle.book.open_count() == 0
    with runtime.engine.connect() as conn:
        open_trades = conn.execute(text("SELECT count(*) FROM trade WHERE status = 'open'")).scalar()
        codes = {r[0] for r in conn.execute(text("SELECT exit_reason_code FROM trade"))}
        applied = conn.execute(text("SELECT halt_applied_at, halt_summary FROM controlstate")).one()
    assert open_trades == 0 and "emergency_stop" in codes
    assert applied[0] is not None and applied[1] == summary
    assert runtime.control.tick(now) is None, "a halt is carried out once"  # type: ignore[arg-type]

    app.run()  # the page now shows the worker's confirmation
    assert any("Worker confirmed" in s.value for s in app.success)


def test_a_second_click_writes_no_second_row(runtime: Runtime, app: AppTest) -> None:
    app.button(key="stop").click().run()
    app.button(key="stop").click().run()
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM controlevent")).scalar() == 1


def test_resume_opens_a_confirmation_and_changes_nothing_by_itself(runtime: Runtime, app: AppTest) -> None:
    """The confirmation is a modal (st.dialog); confirming inside it is a fragment rerun, which
    AppTest cannot drive, so test_console_browser.py confirms it in a real browser."""
    app.button(key="stop").click().run()
    app.button(key="resume").click().run()
    assert not app.exception
    assert app.button(key="confirm_resume_button").label == "Confirm resume"
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM controlstate")).scalar() == "HALTED"
        assert conn.execute(text("SELECT count(*) FROM controlevent")).scalar() == 1


def test_an_open_confirmation_closes_after_a_resume_elsewhere(runtime: Runtime, app: AppTest) -> None:
    """Another device resumed while this one's dialog was open: the next run offers no second resume."""
    app.button(key="stop").click().run()
    app.button(key="resume").click().run()
    assert app.button(key="confirm_resume_button")  # this device's dialog is open
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE controlstate SET state = 'ACTIVE'"))
    app.run()
    assert not app.exception
    assert not [b for b in app.button if b.key in ("confirm_resume_button", "resume")]
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM controlevent")).scalar() == 1


def test_stop_new_entries_sets_reducing_once_and_the_worker_blocks_entries(runtime: Runtime, app: AppTest) -> None:
    app.button(key="reduce").click().run()
    app.button(key="reduce").click().run()  # a double click applies nothing twice
    assert not app.exception
    with runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT who, from_state, to_state, flatten, reason_code FROM controlevent")).all()
    assert [tuple(r) for r in rows] == [("alice", "ACTIVE", "REDUCING", 0, "operator_reduce")]
    assert app.button(key="resume")  # leaving REDUCING goes through the confirmed resume
    save_param_version(runtime.engine, {"min_confidence": 0.3, "cooldown_s": 0, "iv_rank_max": 100,
                                        "blocked_regimes": []}, author="test")  # fmt: skip
    session = session_for(TEST_DAY)
    assert session is not None
    for minute in range(31, 120):
        runtime.cycle.run(session.at(minute))
    runtime.cycle.journal.flush()
    with runtime.engine.connect() as conn:
        trades = conn.execute(text("SELECT count(*) FROM trade")).scalar()
        blocked = conn.execute(text("SELECT count(*) FROM decision WHERE blocked_by = 'trading_state'")).scalar()
    assert trades == 0 and blocked > 0


def test_a_stale_heartbeat_is_warned_about_after_a_stop(runtime: Runtime, app: AppTest) -> None:
    app.button(key="stop").click().run()
    assert any("heartbeat is stale" in e.value for e in app.error)  # no worker is running here


def test_a_stop_the_worker_could_not_finish_shows_as_incomplete_with_what_is_open(
    runtime: Runtime, app: AppTest
) -> None:
    from db.control import mark_halt_incomplete

    app.button(key="stop").click().run()
    text_shown = "Stop incomplete after 3 attempts: positions still open: SPY260310C00500000 x4"
    mark_halt_incomplete(runtime.engine, text_shown)
    app.run()
    shown = [e.value for e in app.error if "STOP INCOMPLETE" in e.value]
    assert shown and "SPY260310C00500000 x4" in shown[0]
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT halt_applied_at FROM controlstate")).scalar() is None
