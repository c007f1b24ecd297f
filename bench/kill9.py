"""kill -9 the worker at random moments, many times, then check the invariants in SQL.

    .venv/bin/python bench/kill9.py [--kills 500] [--seed 1]

The long form of tests/reliability/test_kill9.py (CI runs 15 kills): the same launcher, kill
points and invariant checks. Prints the kills, the refused starts (a successor that found the
dead worker's lease still fresh), the time from a kill to the successor's first decision
(median and p99: the lease period at work) and the figures the checks covered.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ACTIVE_PARAMS, with_params
from tests.reliability.test_kill9 import LEASE, _decisions, check_invariants
from tests.support import poll, start_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lease-seconds", default=LEASE, help="the workers' lease period (the worker's default is 15)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    takeovers: list[float] = []
    refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/kill.db"
        with_params(url, **ACTIVE_PARAMS, entry_delay_min=0, max_hold_min=20)
        extra = ["--start", "2026-03-09"]
        killed_at: float | None = None
        kills = 0
        while kills < args.kills:
            before = _decisions(url)
            proc = start_worker(url, "--model", "none", "--lease-seconds", args.lease_seconds, *extra)
            try:
                poll(url, "SELECT count(*) FROM decision", lambda n, b=before: n > b, timeout_s=120, proc=proc)
            except AssertionError:
                out, _ = proc.communicate(timeout=60)
                if "holds the lease" not in out:
                    raise
                refused += 1
                continue
            if killed_at is not None:
                takeovers.append(time.monotonic() - killed_at)
            extra = []
            target = before + rng.choice([1, 5, 20, 40, 80, 120])
            poll(url, "SELECT count(*) FROM decision", lambda n, t=target: n >= t, timeout_s=120, proc=proc)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            killed_at = time.monotonic()
            kills += 1
            if kills % 50 == 0:
                print(f"{kills} kills...", flush=True)
        print(
            f"{kills} kills, {refused} starts refused while the dead worker's lease was fresh "
            f"(lease {args.lease_seconds} s)"
        )
        if takeovers:
            ordered = sorted(takeovers)
            p99 = ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)]
            print(
                f"kill -9 to the successor's first decision: median {statistics.median(ordered):.2f} s, "
                f"p99 {p99:.2f} s (process start, imports and restore included)"
            )
        print(check_invariants(url))


if __name__ == "__main__":
    main()
