"""`python -m worker --mode paper` against the fake Alpaca, as a user runs it.

The fake's clock is stepped one minute at a time; after each step the test waits for the
worker's decisions of that minute. The same minutes are then run on the simulator in-process:
the paper run must record the same trades and the same decisions. The stop flattens the
account at the broker; a restart that finds a position the database does not know halts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from core.types import TradingState
from db.control import set_trading_state
from tests.alpaca_helpers import fake_alpaca, session_time
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.fake_alpaca import FakeAlpacaServer, alpaca_env
from tests.support import ROOT
from worker.runtime import RunOptions, build_runtime

TRADE_COLUMNS = (
    "contract, direction, entry_time, entry_qty, entry_avg, exit_time, exit_avg, "
    "entry_reason_code, exit_reason_code, round(realized_pnl, 2)"
)
DECISION_COLUMNS = "time, symbol, action, final_action, blocked_by, exit_code"


def start_worker(url: str, server: FakeAlpacaServer, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **alpaca_env(server.url, ALPACA_MAX_REQUESTS_PER_MINUTE="100000"), "PYTHONUNBUFFERED": "1"}
    args = ["--mode", "paper", "--db", url, "--model", "none", "--poll-seconds", "0.2", "--settle-seconds", "0"]
    return subprocess.Popen(
        [sys.executable, "-m", "worker", *args, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def stop_worker(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def wait_for(engine: Engine, sql: str, check: Any, proc: subprocess.Popen[str], timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker exited: {proc.communicate()[0]}")
        try:
            with engine.connect() as conn:
                value = conn.execute(text(sql)).first()
        except Exception:
            value = None
        if value is not None and check(value):
            return value
        time.sleep(0.02)
    raise AssertionError(f"{sql} gave {value} for {timeout_s} s")


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_a_paper_session_records_what_the_simulator_records_and_the_stop_flattens(tmp_path: Path) -> None:
    params = {**ACTIVE_PARAMS, "policy_mode": "rules"}
    paper_url, sim_url = f"sqlite:///{tmp_path / 'paper.db'}", f"sqlite:///{tmp_path / 'sim.db'}"
    with_params(paper_url, **params)
    with_params(sim_url, **params)
    paper = create_engine(paper_url)
    start, minutes = session_time(10, 0), 120
    with fake_alpaca(start=start, fee=0.65) as server:
        proc = start_worker(paper_url, server)
        try:
            for i in range(minutes):
                if i:
                    server.state.advance(1)
                wait_for(paper, "SELECT count(*) FROM decision", lambda r, n=2 * (i + 1): r[0] >= n, proc)
            extra = 0
            while not server.state.positions and extra < 120:  # the stop must have something to flatten
                server.state.advance(1)
                extra += 1
                wait_for(paper, "SELECT count(*) FROM decision", lambda r, n=2 * (minutes + extra): r[0] >= n, proc)
            assert server.state.positions, "no position open to stop"
            set_trading_state(paper, TradingState.HALTED, "tester", "operator_stop", "stop", flatten=True)
            summary = wait_for(paper, "SELECT halt_summary FROM controlstate", lambda r: r[0] is not None, proc)
            assert server.state.positions == {}
            assert "0 positions left at the broker" in summary[0]
        finally:
            out = stop_worker(proc)
    assert "fake-secret" not in out

    # the fake fills at once at the quote, as the simulator's instant model does
    options = RunOptions(mode="sim", source="synthetic", seed=7, db=sim_url, model=None, execution="instant")
    sim = build_runtime(options, "worker")
    for i in range(minutes + extra):
        sim.cycle.run(start + timedelta(minutes=i))
    sim.journal.flush()
    sim_engine = create_engine(sim_url)
    until = f"WHERE time < '{(start + timedelta(minutes=minutes + extra)).astimezone(UTC):%Y-%m-%d %H:%M:%S}'"
    paper_trades = rows(
        paper, f"SELECT {TRADE_COLUMNS} FROM trade WHERE exit_reason_code != 'emergency_stop' ORDER BY id"
    )
    sim_trades = rows(sim_engine, f"SELECT {TRADE_COLUMNS} FROM trade WHERE status = 'closed' ORDER BY id")
    assert len(paper_trades) >= 3, "the session must open, manage and close trades"
    assert paper_trades == sim_trades
    assert rows(paper, f"SELECT {DECISION_COLUMNS} FROM decision {until} ORDER BY id") == rows(
        sim_engine, f"SELECT {DECISION_COLUMNS} FROM decision ORDER BY id"
    )
    sources = rows(paper, "SELECT DISTINCT data_source, degraded FROM decision")
    assert sources == [("alpaca", 0)]
    orders = rows(paper, "SELECT DISTINCT order_type FROM orders WHERE reason_code != 'emergency_stop'")
    assert orders == [("limit",)]
    _check_the_recording(paper, start, minutes + extra)


def _check_the_recording(paper: Engine, start: datetime, minutes: int) -> None:
    """Paper mode records what the cycle saw: every completed bar of each underlying once, VIX
    each minute, and the quotes near the money with the feed's own timestamps."""
    for symbol in ("SPY", "QQQ"):
        times = [t for (t,) in rows(paper, f"SELECT time FROM bar WHERE symbol = '{symbol}' ORDER BY time")]
        assert len(times) == len(set(times)), "each bar recorded once"
        assert len(times) >= minutes, f"{symbol}: {len(times)} bars for {minutes} minutes"
    assert rows(paper, "SELECT count(*) FROM bar WHERE symbol = 'VIX'")[0][0] >= minutes - 1
    per_minute = rows(paper, "SELECT time, count(*), min(quote_time) FROM optionquote GROUP BY time ORDER BY time")
    assert len(per_minute) >= minutes and all(n >= 10 for _, n, _ in per_minute)
    sources = rows(paper, "SELECT DISTINCT source, degraded FROM optionquote")
    assert sources == [("alpaca", 0)]
    far = rows(
        paper, "SELECT count(*) FROM optionquote WHERE abs(cast(substr(contract, -8) as real) / 1000 / spot - 1) > 0.02"
    )
    assert far == [(0,)], "only strikes within the band are recorded"


def test_a_restart_that_finds_an_unknown_position_halts_until_reconciled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    with_params(url, **ACTIVE_PARAMS, policy_mode="rules")
    engine = create_engine(url)
    with fake_alpaca(start=session_time(11, 0)) as server:
        chain = server.state.market.chain("QQQ", server.state.now)
        assert chain is not None
        stray = chain.quote(5).contract.symbol
        server.state.set_position(stray, 2, 1.25)  # opened by hand in Alpaca's dashboard
        proc = start_worker(url, server, "--reconcile-minutes", "0.02")
        try:
            state = wait_for(
                engine, "SELECT state, reason_code, reason FROM controlstate", lambda r: r[0] == "HALTED", proc
            )
            assert state[1] == "reconcile_mismatch" and f"unknown position {stray}" in state[2]
            events = rows(engine, "SELECT level, message FROM event WHERE code = 'reconcile_mismatch'")
            assert events and events[0][0] == "error" and stray in events[0][1]
            server.state.advance(2)
            time.sleep(0.5)
            assert rows(engine, "SELECT count(*) FROM orders") == [(0,)]  # nothing traded while halted
            assert server.state.positions[stray][0] == 2  # and nothing flattened that it does not know
            del server.state.positions[stray]  # the operator closes it at the broker
            wait_for(engine, "SELECT state FROM controlstate", lambda r: r[0] == "ACTIVE", proc)
            wait_for(engine, "SELECT count(*) FROM event WHERE code = 'reconciled'", lambda r: r[0] >= 1, proc)
            time.sleep(0.5)  # several more reconciliations: still one event, still ACTIVE
            assert rows(engine, "SELECT count(*) FROM event WHERE code = 'reconciled'") == [(1,)]
            assert rows(engine, "SELECT state FROM controlstate") == [("ACTIVE",)]
        finally:
            stop_worker(proc)
