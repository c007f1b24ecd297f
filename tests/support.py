"""Shared test helpers: one worker-process launcher and one SQL poller (wait for a condition,
never for a fixed time)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]


def start_worker(
    url: str, *extra: str, speed: str = "3000", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`python -m worker` as a user starts it, on the simulator, with its output captured
    (stderr folded into stdout); `env` adds variables to the inherited environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--db", url, "--speed", speed, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def poll(url: str, sql: str, until: Callable[[Any], bool], timeout_s: float = 120.0, proc: Any = None) -> Any:
    """Read `sql`'s first value until `until(value)`; fails after `timeout_s` (a generous bound
    for a stuck run, never a speed assertion) or when `proc` exits first."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    value: Any = None
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    value = conn.execute(text(sql)).scalar()
            except Exception:
                value = None
            if value is not None and until(value):
                return value
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"the worker exited ({proc.returncode}) while waiting for {sql}")
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise AssertionError(f"{sql} stayed at {value!r} for {timeout_s} s")
