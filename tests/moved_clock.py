"""The whole suite under a moved clock: `TEST_CLOCK=saturday make test` (or `holiday`, `0300`,
`1559`, or any ISO time with its offset) moves the wall clock of the test process and of every
Python process it starts (workers, the console) to that moment, ticking on from there, with
time-machine. No test may depend on the date, the weekday or the hour: the suite passes under
each of these clocks (the README lists the runs), and CI runs the console and worker tests once
more under the Saturday clock.

Chromium and PostgreSQL keep the real clock; nothing the tests check depends on theirs.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from core.calendar import NY

CLOCKS: dict[str, datetime] = {
    "saturday": datetime(2026, 12, 5, 12, 0, tzinfo=NY),
    "holiday": datetime(2026, 12, 25, 11, 0, tzinfo=NY),  # Christmas Day, a Friday: no session
    "0300": datetime(2026, 12, 8, 3, 0, tzinfo=NY),  # a Tuesday before the open
    "1559": datetime(2026, 12, 8, 15, 59, tzinfo=NY),  # a Tuesday, one minute before the close
}
FOLDER = Path(__file__).resolve().parent / "clock_shift"


def moment(name: str) -> datetime:
    """A named clock, or an ISO time with its UTC offset."""
    if name in CLOCKS:
        return CLOCKS[name]
    found = datetime.fromisoformat(name)
    if found.tzinfo is None:
        raise ValueError(f"TEST_CLOCK={name!r}: give a UTC offset, or one of {', '.join(CLOCKS)}")
    return found


def start_from_environment() -> str | None:
    """Under TEST_CLOCK: fix the shift once (subprocesses inherit it), put the folder whose
    sitecustomize moves their clocks on PYTHONPATH, and move this process's clock. Returns a
    line for the report header."""
    import sys

    name = os.environ.get("TEST_CLOCK")
    if not name:
        return None
    target = moment(name)
    shift = os.environ.setdefault("TEST_CLOCK_SHIFT_S", str(target.timestamp() - time.time()))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(FOLDER), os.environ.get("PYTHONPATH")) if p)
    sys.path.insert(0, str(FOLDER))
    from tests_clock_shift import travel_from_environment

    travel_from_environment()
    return f"test clock: {name} = {target.astimezone(NY):%a %Y-%m-%d %H:%M} ET (shift {float(shift):+.0f} s)"
