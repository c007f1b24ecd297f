"""The console's own line to the broker: the stop must work while the worker is down.

With a real broker (paper or live) the stop button records HALTED for the worker and also runs
`python -m worker.flatten` as a separate process: it cancels every order and closes every
position at Alpaca with the keys from the console's environment, reads the account back and
writes the result as an event. A process, not an import: the console stays free of alpaca-py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REAL_MODES = ("paper", "live")
ROOT = Path(__file__).resolve().parents[1]
FLATTEN_TIMEOUT_S = 60


def trading_mode(status: dict[str, Any] | None) -> str:
    """The mode of the worker on this database (its heartbeat), else TRADING_MODE, else sim."""
    if status and status.get("mode"):
        return str(status["mode"])
    return os.environ.get("TRADING_MODE", "sim")


def flatten_at_broker(db_url: str, mode: str, operator: str) -> tuple[bool, str]:
    """Run the direct stop; (flat, summary) for the page."""
    command = [sys.executable, "-m", "worker.flatten", "--mode", mode, "--operator", operator]
    env = {**os.environ, "DATABASE_URL": db_url}  # the environment, never the command line: `ps` shows that
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=FLATTEN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"Direct broker stop did not finish within {FLATTEN_TIMEOUT_S} s."
    lines = (done.stdout.strip() or done.stderr.strip() or "no output").splitlines()
    return done.returncode == 0, lines[-1]
