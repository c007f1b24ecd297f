"""What-if speed: an edited parameter set beside the active one on 20 sessions of SPY and QQQ.

    .venv/bin/python bench/whatif_speed.py [--sessions 20] [--repeats 5] [--source synthetic|csv:DIR]

Target (issues 14, 21): both sides of 20 sessions in at most 10 s on this machine. Prints the
median and p99 wall time of `run_whatif` (both backtests, every decision persisted, and the
comparison: what the console shows first) and of the error band that follows it (both sides
again at the calibration error's two ends: four more backtests, shown when they finish).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.control import bootstrap, save_param_version
from db.engine import make_engine
from db.migrate import upgrade
from worker.offline.whatif import add_error_band, band_text, run_whatif

ACTIVE = {"min_confidence": 0.5, "cooldown_s": 0, "max_trades_per_symbol_day": 20}
EDITED = {**ACTIVE, "min_confidence": 0.7}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", default="synthetic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/worker.db"
        upgrade(url)
        engine = make_engine(url)
        bootstrap(engine)
        save_param_version(engine, ACTIVE, author="bench")
        walls, bands = [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            result = run_whatif(url, EDITED, args.sessions, source=args.source)
            walls.append(time.perf_counter() - began)
            began = time.perf_counter()
            result = add_error_band(result, url, EDITED, None, None)
            bands.append(time.perf_counter() - began)
    w, b = np.array(walls), np.array(bands)
    print(f"what-if, {args.sessions} sessions x 2 symbols x 2 sides from {args.source}, {args.repeats} runs")
    print(f"  comparison: median {np.median(w):.2f} s, p99 {np.percentile(w, 99):.2f} s (target: at most 10 s)")
    print(f"  error band after it: median {np.median(b):.2f} s, p99 {np.percentile(b, 99):.2f} s")
    print(f"  edited P&L {band_text(result, 'edited')}")
    print(
        f"  last run: {result.active.trades} vs {result.edited.trades} trades, "
        f"{result.decisions_changed} decisions changed"
    )


if __name__ == "__main__":
    main()
