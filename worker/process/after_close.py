"""What the worker does once a session has closed: the day's parity report.

A recorded day (paper and live workers record by default) is replayed on its recordings and
compared with what the worker did (`python -m worker.parity`), so the console's Parity page
fills itself. The replay runs in a child process: the worker's cycle, control tick and
heartbeat never wait for it. A day is handled once per process, and not at all when its report
is already stored (a restart after the close does not redo it). The day is the newest session
closed by the worker's clock, so a restart the next morning still reports yesterday. The child's exit is written as
an event (`parity_done` or `parity_failed`, with the log file to read).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from core.calendar import latest_closed, session_for
from db.models import Bar, ParityDay

log = logging.getLogger("worker.after_close")
GRACE = timedelta(minutes=5)  # the last fills and the flush of the close land first


def recorded(engine: Engine, day: date, symbol: str = "SPY") -> bool:
    """Whether the worker recorded bars during that day's session."""
    session = session_for(day)
    if session is None:
        return False
    with engine.connect() as conn:
        found = conn.execute(
            select(Bar.time).where(Bar.symbol == symbol, Bar.time >= session.open, Bar.time < session.close).limit(1)
        ).first()
    return found is not None


def reported(engine: Engine, day: date) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(ParityDay.day).where(ParityDay.day == day.isoformat())).first() is not None


@dataclass
class AfterClose:
    """Called every minute or so with the worker's clock; starts each closed day's report once."""

    engine: Engine
    url: str  # the worker's database, for the child process
    note: Callable[[str, str, str], None]  # (level, code, message): the journal's event
    model: str | None = None  # the model the worker trades (the replay must run the same)
    log_dir: Path = Path("data/logs")
    launch: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen
    handled: set[date] = field(default_factory=set)
    child: tuple[date, subprocess.Popen[bytes], Path] | None = None

    def check(self, now: datetime | None) -> None:
        self._reap()
        if now is None or self.child is not None:
            return
        day = latest_closed(now, GRACE).day
        if day in self.handled:
            return
        self.handled.add(day)
        if not recorded(self.engine, day) or reported(self.engine, day):
            return
        self.start_parity(day)

    def start_parity(self, day: date) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"parity-{day.isoformat()}.log"
        command = [sys.executable, "-m", "worker.parity", "--start", str(day), "--end", str(day)]
        if self.model:
            command += ["--model", self.model]
        env = {**os.environ, "DATABASE_URL": self.url}  # not on the command line: ps would show a password
        with log_path.open("ab") as out:
            proc = self.launch(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.child = (day, proc, log_path)
        log.info("session %s closed: parity report started (pid %d, log %s)", day, proc.pid, log_path)

    def _reap(self) -> None:
        if self.child is None:
            return
        day, proc, log_path = self.child
        code = proc.poll()
        if code is None:
            return
        self.child = None
        if code == 0:
            self.note("info", "parity_done", f"Parity report of {day} is ready (the Parity page).")
            log.info("parity report of %s done", day)
        else:
            self.note("warning", "parity_failed", f"Parity report of {day} failed (exit {code}); see {log_path}.")
            log.warning("parity report of %s failed with exit %d (log %s)", day, code, log_path)

    def stop(self) -> None:
        """At the worker's stop: a report still running is left to finish on its own."""
        if self.child is not None:
            log.info("parity report of %s still running (pid %d)", self.child[0], self.child[1].pid)
