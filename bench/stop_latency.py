"""The stop, end to end: HALTED with flatten recorded (as the console records it) to the
worker's confirmation with 0 open positions, over many trials.

    .venv/bin/python bench/stop_latency.py [--trials 30] [--speed 600]

A worker runs on the simulator; each trial waits for an open position, records the stop, and
times until the control row carries the worker's confirmation and no trade is open; then it
resumes and waits for the next position. Prints median and p99 (wall-clock seconds).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.types import TradingState
from db.control import set_trading_state
from db.engine import make_engine
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.support import poll, start_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--speed", default="600")
    args = parser.parse_args()
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/stop.db"
        with_params(url, **ACTIVE_PARAMS, entry_delay_min=0)
        engine = make_engine(url)
        proc = start_worker(url, "--model", "none", "--start", "2026-03-09", speed=args.speed)
        try:
            for _ in range(args.trials):
                poll(url, "SELECT count(*) FROM trade WHERE status = 'open'", lambda n: n >= 1, proc=proc)
                began = time.monotonic()
                set_trading_state(engine, TradingState.HALTED, "bench", "operator_stop", "bench", flatten=True)
                poll(
                    url,
                    "SELECT (SELECT count(*) FROM trade WHERE status = 'open') = 0 "
                    "AND (SELECT halt_applied_at FROM controlstate) IS NOT NULL",
                    bool,
                    proc=proc,
                )
                times.append(time.monotonic() - began)
                set_trading_state(engine, TradingState.ACTIVE, "bench", "operator_resume", "bench")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    ordered = sorted(times)
    p99 = ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)]
    print(
        f"stop to confirmed flat over {len(times)} trials: median {statistics.median(ordered):.2f} s, "
        f"p99 {p99:.2f} s, max {ordered[-1]:.2f} s (the control tick runs every second)"
    )


if __name__ == "__main__":
    main()
