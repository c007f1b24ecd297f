"""kill -9 at random moments, then the money invariants checked in SQL.

The worker runs on the simulator at a high speed with a 1-second lease; it is killed with
SIGKILL after a random number of new decisions (from none at all, during start-up, to a few
dozen), restarted as soon as the lease frees, `KILLS` times, then stopped cleanly. Nothing may
be repeated, lost or booked twice. The kill points come from a seeded generator; every wait is
for a condition in the database, never a sleep."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.calendar import session_containing
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.support import poll, start_worker

KILLS = int(os.environ.get("RELIABILITY_KILLS", "15"))  # bench/kill9.py runs 500
LEASE = "1"
INITIAL_CASH = 100_000.0


def _decisions(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM decision")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def _run_until_killed(url: str, rng: random.Random) -> str:
    """Start a worker (retrying while the dead one's lease is still fresh); kill it after a
    random number of new decisions. Returns 'killed' or what a refused start said."""
    before = _decisions(url)
    proc = start_worker(url, "--model", "none", "--lease-seconds", LEASE)
    target = before + rng.choice([0, 1, 5, 20, 40, 80, 120])
    try:
        poll(url, "SELECT count(*) FROM decision", lambda n: n >= target, timeout_s=120, proc=proc)
    except AssertionError:
        _raise_unless_refused(proc)
        return "refused"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return "killed"


def _raise_unless_refused(proc: subprocess.Popen[str]) -> None:
    """A worker that stopped early must have been refused for the fresh lease, nothing else."""
    out, _ = proc.communicate(timeout=60)
    if not ("refused to start" in out and "holds the lease" in out):
        raise AssertionError(f"worker died on its own:\n{out[-3000:]}") from None


def _start_when_lease_frees(url: str) -> subprocess.Popen[str]:
    """The clean last run: start a worker, starting again while the last killed one's lease is
    still fresh, until one has made ten new decisions."""
    while True:
        count = _decisions(url)
        proc = start_worker(url, "--model", "none", "--lease-seconds", LEASE)
        try:
            poll(url, "SELECT count(*) FROM decision", lambda n, c=count: n >= c + 10, proc=proc)
            return proc
        except AssertionError:
            _raise_unless_refused(proc)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    with_params(url, **ACTIVE_PARAMS, entry_delay_min=0, max_hold_min=20)
    rng = random.Random(20261202)
    first = start_worker(url, "--model", "none", "--lease-seconds", LEASE, "--start", "2026-03-09")
    poll(url, "SELECT count(*) FROM decision", lambda n: n >= 5, proc=first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)
    kills, refusals = 1, 0
    while kills < KILLS:
        outcome = _run_until_killed(url, rng)
        kills += outcome == "killed"
        refusals += outcome == "refused"
    last = _start_when_lease_frees(url)
    last.send_signal(signal.SIGTERM)
    out, _ = last.communicate(timeout=60)
    assert last.returncode == 0, out[-3000:]
    figures = check_invariants(url)
    print(f"\nkill -9: {kills} kills, {refusals} starts refused while the lease was fresh; {figures}")


def check_invariants(url: str) -> str:
    """The invariants after any number of crashes; returns the figures it checked."""
    engine = create_engine(url)
    with engine.connect() as conn:

        def q(sql: str) -> list[Any]:
            return list(conn.execute(text(sql)).all())

        assert q("SELECT client_order_id FROM orders GROUP BY client_order_id HAVING count(*) > 1") == []
        twice = q(
            "SELECT underlying, created_at, opening FROM orders WHERE client_order_id NOT LIKE 'liquidation-%' "
            "AND client_order_id NOT LIKE 'expiry-%' AND client_order_id NOT LIKE 'close-all-%' "
            "GROUP BY underlying, created_at, opening HAVING count(*) > 1"
        )
        assert twice == [], f"an intent was ordered twice: {twice}"
        booked = q(
            "SELECT o.client_order_id, o.filled_qty, coalesce(sum(f.qty), 0) FROM orders o "
            "LEFT JOIN fill f ON f.order_id = o.id GROUP BY o.id HAVING o.filled_qty != coalesce(sum(f.qty), 0)"
        )
        assert booked == [], f"fills booked not exactly once: {booked}"
        held: dict[str, int] = defaultdict(int)
        for contract, side, qty in q("SELECT contract, side, qty FROM fill"):
            held[contract] += qty if side == "buy" else -qty
        open_trades: dict[str, int] = defaultdict(int)
        for contract, qty_open in q("SELECT contract, qty_open FROM trade WHERE status = 'open'"):
            open_trades[contract] += qty_open
        assert {k: v for k, v in held.items() if v} == dict(open_trades), "the book's positions equal the fills'"
        cash = INITIAL_CASH + sum(
            (-1 if side == "buy" else 1) * price * 100 * qty - fee
            for side, qty, price, fee in q("SELECT side, qty, price, fee FROM fill")
        )
        last_cash = q("SELECT cash FROM equity ORDER BY id DESC LIMIT 1")[0][0]
        assert abs(last_cash - cash) < 0.01, f"cash {last_cash} != cash from the fills {cash}"
        dup = q("SELECT time, symbol FROM decision GROUP BY time, symbol HAVING count(*) > 1")
        assert dup == [], f"(time, symbol) decided twice: {dup[:5]}"
        gaps = 0
        for symbol in ("SPY", "QQQ"):
            times = [_utc(t) for (t,) in q(f"SELECT time FROM decision WHERE symbol = '{symbol}' ORDER BY time")]
            for a, b in itertools.pairwise(times):
                same_session = session_containing(a) == session_containing(b)
                if same_session and b - a != timedelta(minutes=1):
                    gaps += 1
        assert gaps == 0, f"{gaps} gaps in the decisions"
        backwards = q("SELECT id FROM trade WHERE exit_time IS NOT NULL AND exit_time < entry_time")
        assert backwards == [], "an exit before its entry"
        n_orders = q("SELECT count(*) FROM orders")[0][0]
        n_fills = q("SELECT count(*) FROM fill")[0][0]
        n_decisions = q("SELECT count(*) FROM decision")[0][0]
        n_trades = q("SELECT count(*) FROM trade")[0][0]
        runs = q("SELECT count(*) FROM run")[0][0]
    engine.dispose()
    return (
        f"{runs} runs, {n_decisions} decisions, {n_orders} orders, {n_fills} fills, {n_trades} trades: "
        "all invariants hold"
    )


def _utc(value: str | datetime) -> datetime:
    from datetime import UTC

    if isinstance(value, datetime):  # Postgres returns datetimes, SQLite text
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def test_the_invariant_checks_catch_a_replayed_minute(tmp_path: Path) -> None:
    """The checker itself: a decision written twice for one (time, symbol) is caught."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    with_params(url, **ACTIVE_PARAMS)
    proc = start_worker(url, "--model", "none", "--lease-seconds", LEASE, "--start", "2026-03-09")
    poll(url, "SELECT count(*) FROM decision", lambda n: n >= 20, proc=proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    check_invariants(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO decision (run_id, time, bar_time, symbol, p_hold, p_buy_call, p_buy_put, p_close, "
                "action, confidence, final_action, regime, param_version, model_version, data_source, degraded, "
                "latency_ms) SELECT run_id, time, bar_time, symbol, p_hold, p_buy_call, p_buy_put, p_close, action, "
                "confidence, final_action, regime, param_version, model_version, data_source, degraded, latency_ms "
                "FROM decision ORDER BY id LIMIT 1"
            )
        )
    with pytest.raises(AssertionError, match="decided twice"):
        check_invariants(url)
