"""After a recorded session closes, the worker starts its parity report in a child process
(`python -m worker.parity`), once; the cycle never waits for it."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from core.calendar import session_for
from tests.alpaca_helpers import session_time
from tests.conftest import with_params
from worker.process.after_close import GRACE, AfterClose


def _copy(url: str, folder: Path) -> str:
    """The recorded database, copied whole (WAL included) without the parity rows of other tests."""
    target = folder / "worker.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
        copy.execute("DELETE FROM parityfill")
        copy.execute("DELETE FROM parityday")
    return f"sqlite:///{target}"


def _wait_for(check: Any, what: str, seconds: float = 300.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_closed_recorded_day_gets_its_parity_report_once(recorded_paper: tuple[str, Path], tmp_path: Path) -> None:
    url = _copy(recorded_paper[0], tmp_path)
    engine = create_engine(url)
    notes: list[tuple[str, str, str]] = []
    launched: list[list[str]] = []

    def launch(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        launched.append(command)
        return subprocess.Popen(command, **kwargs)

    job = AfterClose(engine, url, lambda *note: notes.append(note), log_dir=tmp_path / "logs", launch=launch)
    day = session_time(10, 0).date()
    session = session_for(day)
    assert session is not None
    job.check(session.close)  # the close itself: the last fills may still land
    job.check(session.close + GRACE - timedelta(seconds=1))
    assert launched == []
    job.check(session.close + GRACE)
    assert len(launched) == 1 and launched[0][-2:] == ["--end", str(day)]
    job.check(session.close + GRACE + timedelta(minutes=1))  # running: nothing more
    assert len(launched) == 1

    def finished() -> bool:
        job.check(session.close + GRACE + timedelta(minutes=2))
        return bool(notes)

    _wait_for(finished, "the parity child to exit")
    assert notes[0][1] == "parity_done", (notes, (tmp_path / "logs" / f"parity-{day}.log").read_text())
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT day, decisions FROM parityday")).all()
    assert [r[0] for r in stored] == [str(day)] and stored[0][1] > 0
    job.check(session.close + timedelta(hours=3))
    restarted = AfterClose(engine, url, lambda *note: notes.append(note), launch=launch)
    restarted.check(session.close + timedelta(hours=3))  # a restart: the report is stored already
    assert len(launched) == 1
    engine.dispose()


def test_a_day_without_recordings_starts_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with_params(url)
    engine = create_engine(url)
    launched: list[Any] = []
    job = AfterClose(engine, url, lambda *_: None, launch=lambda *a, **k: launched.append(a))  # type: ignore[arg-type,func-returns-value]
    session = session_for(session_time(10, 0).date())
    assert session is not None
    job.check(session.close + GRACE)
    assert launched == []
    engine.dispose()
