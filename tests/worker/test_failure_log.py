"""A failure that repeats is logged once per kind per period, the first time with its traceback."""

from __future__ import annotations

import logging

import pytest

from worker.process.failure_log import FailureLog


def test_one_line_per_kind_per_period_and_the_count_it_folded(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    failures = FailureLog(logging.getLogger("test.failures"), period_s=60.0, clock=lambda: now[0])
    caplog.set_level(logging.ERROR, "test.failures")
    try:
        raise OSError("disk full")
    except OSError as exc:
        first = exc
    logged = [failures.report("disk", "cycle failed", first)]
    for second in range(1, 120):  # one failure a second for two minutes
        now[0] = float(second)
        logged.append(failures.report("disk", "cycle failed"))
        logged.append(failures.report("control", "tick failed"))
    assert sum(logged) == 2 + 1 + 1, "disk at 0 s and 60 s, control at 1 s and 61 s"
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "cycle failed",
        "tick failed",
        "cycle failed (59 more like it in the last 60 s)",
        "tick failed (59 more like it in the last 60 s)",
    ]
    assert caplog.records[0].exc_info is not None, "the first one carries its traceback"
    failures.clear("disk")
    assert failures.report("disk", "cycle failed again")
