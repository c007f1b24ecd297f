"""Console page speed: every page's server-side run (Streamlit AppTest) on a database seeded with
100,000 trades and 1,000,000 decisions.

    .venv/bin/python bench/console_pages.py [--trades 100000] [--decisions 1000000] [--repeats 5]

Each timed run starts with st.cache_data cleared, so the figures are cold-cache (the worst case a
user meets after the TTL expires); engines stay in st.cache_resource, as in the running console.
Target: at most 1.5 s per page.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.calendar import last_sessions  # noqa: E402
from db.control import bootstrap, save_param_version  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade  # noqa: E402

PAGES = ("overview", "trades", "decisions", "parameters", "audit")
END = date(2026, 3, 19)
FMT = "%Y-%m-%d %H:%M:%S.%f"
ENTRY_CODES = ("policy_buy_call", "policy_buy_put")
EXIT_CODES = ("take_profit", "stop_loss", "trailing_stop", "max_hold", "policy_exit", "eod_flatten")
REGIMES = ("calm", "normal", "storm", "crash")
BLOCKS = ("session_window", "min_confidence", "cooldown", "max_trades", "iv_rank", "vix_ceiling", "max_spread")


def seed(url: str, path: Path, n_trades: int, n_decisions: int, seed_value: int = 7) -> None:
    """Plausible rows spread over as many sessions as 1-minute decisions for two symbols need."""
    upgrade(url)
    engine = make_engine(url)
    bootstrap(engine)
    for i in range(3):
        save_param_version(engine, {"min_confidence": 0.75 + 0.05 * i}, author="bench", note=f"version {i}")
    engine.dispose()
    rng = np.random.default_rng(seed_value)
    sessions = last_sessions(END, max(n_decisions // 780, 1))
    minutes = [s.open + timedelta(minutes=m) for s in sessions for m in range(1, s.minutes + 1)]
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    decision_rows = []
    probs = rng.dirichlet([6, 1, 1, 1], size=n_decisions)
    blocked = rng.random(n_decisions) < 0.3
    block_pick = rng.integers(0, len(BLOCKS), n_decisions)
    for i in range(n_decisions):
        t = minutes[(i // 2) % len(minutes)].astimezone(UTC).strftime(FMT)
        p = probs[i]
        action = ("hold", "buy_call", "buy_put", "close")[int(p.argmax())]
        code = BLOCKS[block_pick[i]] if blocked[i] else None
        decision_rows.append((
            "bench", t, t, ("SPY", "QQQ")[i % 2], *map(float, p), action, float(p.max()),
            "hold" if code else action, code, f"{code} blocked the entry" if code else None, None,
            REGIMES[i % 4], 18.0, 40.0, 500.0 + (i % 97), 50.0, 0.1, 0.2, 0.1, 15.0, 0.0, 1, "rules-1", "sim", 0,
            0.4, None,
        ))  # fmt: skip
    con.executemany(
        "INSERT INTO decision (run_id, time, bar_time, symbol, p_hold, p_buy_call, p_buy_put, p_close, action, "
        "confidence, final_action, blocked_by, blocked_reason, exit_code, regime, vix, iv_rank, underlying_price, "
        "rsi_14, vwap_dist_pct, trend_pct, atr_pct, rv_annual_pct, volume_z, param_version, model_version, "
        "data_source, degraded, latency_ms, order_client_id) VALUES (" + ",".join("?" * 30) + ")",
        decision_rows,
    )
    trade_rows = []
    pnl = rng.normal(-5.0, 300.0, n_trades)
    hold = rng.integers(1, 120, n_trades)
    for i in range(n_trades):
        entry = minutes[int(rng.integers(0, len(minutes)))]
        exit_ = entry + timedelta(minutes=int(hold[i]))
        trade_rows.append((
            "bench", "closed", ("SPY", "QQQ")[i % 2], f"SPY260319C{500 + i % 20:05d}000", 1,
            entry.astimezone(UTC).strftime(FMT), exit_.astimezone(UTC).strftime(FMT), 2, 0, 1.5, 2, 1.5 + pnl[i] / 200,
            2.6, float(pnl[i]), ENTRY_CODES[i % 2], "policy entry", EXIT_CODES[i % 6], "exit", 0.6 + (i % 40) / 100,
            REGIMES[i % 4], 18.0, "rules-1", 1 + i % 3, f"bench-{i}", float(-abs(pnl[i]) / 20), float(abs(pnl[i]) / 15),
            1.6, 0, 0.1, 0.1,
        ))  # fmt: skip
    con.executemany(
        "INSERT INTO trade (run_id, status, underlying, contract, direction, entry_time, exit_time, entry_qty, "
        "qty_open, entry_avg, exit_qty, exit_avg, fees, realized_pnl, entry_reason_code, entry_reason, "
        "exit_reason_code, exit_reason, confidence, regime, vix, model_version, param_version, "
        "entry_client_order_id, mae_pct, mfe_pct, peak_bid, partials_done, entry_atr_pct, entry_trend_pct) "
        "VALUES (" + ",".join("?" * 30) + ")",
        trade_rows,
    )
    equity = 100_000 + np.cumsum(rng.normal(0, 50, 390 * 10))
    con.executemany(
        "INSERT INTO equity (run_id, time, cash, equity, peak, start_of_day) VALUES (?,?,?,?,?,?)",
        [("bench", t.astimezone(UTC).strftime(FMT), e, e, max(equity[: i + 1]), equity[0])
         for i, (t, e) in enumerate(zip(minutes[-3900:], equity, strict=False))],
    )  # fmt: skip
    con.commit()
    con.close()


def time_pages(url: str, repeats: int) -> dict[str, list[float]]:
    import os

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["DATABASE_URL"] = url
    os.environ.pop("CONSOLE_PASSWORD_HASH", None)
    app = str(ROOT / "tests" / "console_app.py")  # see its docstring: AppTest and the pages/ folder
    AppTest.from_file(app, default_timeout=120).run()  # warm-up: imports and the engines
    out: dict[str, list[float]] = {p: [] for p in PAGES}
    for _ in range(repeats):
        for page in PAGES:
            at = AppTest.from_file(app, default_timeout=120)
            if page != "overview":
                at.run()
                at.switch_page(f"../pages/{page}.py")
            st.cache_data.clear()
            began = time.perf_counter()
            at.run()
            out[page].append(time.perf_counter() - began)
            if at.exception:
                raise SystemExit(f"{page} raised: {at.exception[0].value}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "console_bench.db"
        url = f"sqlite:///{path}"
        began = time.perf_counter()
        seed(url, path, args.trades, args.decisions)
        print(f"seeded {args.trades:,} trades and {args.decisions:,} decisions in {time.perf_counter() - began:.1f} s")
        timings = time_pages(url, args.repeats)
    worst = 0.0
    for page, runs in timings.items():
        worst = max(worst, max(runs))
        print(f"{page:<11} median {statistics.median(runs):.3f} s   max {max(runs):.3f} s   ({len(runs)} cold runs)")
    print(f"slowest page run {worst:.3f} s (target <= 1.5 s: {'met' if worst <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
