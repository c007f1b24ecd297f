"""`python -m worker --mode live` behind the go-live gate, against the fake Alpaca, as an operator
runs it: refused on an empty paper record (the failing criteria printed with their values),
started on a record that meets the gate, started on an override at its size cap, and back on
paper when the override runs out with the gate still not met."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from core.alerts import AlertKind
from core.params import TradingParams
from core.types import TradingState
from db.alert_reads import EventRow
from db.control import ControlSnapshot, read_control, save_param_version, set_trading_state
from db.go_live import OverrideError, active_override, grant_override, paper_record
from db.models import Event, LiveOverride
from tests.alpaca_helpers import SESSION_DAY, fake_alpaca, session_time
from tests.conftest import with_params
from tests.fake_alpaca import FakeAlpacaServer, alpaca_env
from tests.go_live_helpers import PAPER_DAYS, SMALL_GATE, seed_paper_record
from tests.support import ROOT
from tests.worker.test_paper_worker import rows, stop_worker, wait_for
from worker.adapters.alpaca_http import LIVE_CONFIRMATION
from worker.alerts.relay import event_alert, gate_status
from worker.process import go_live
from worker.process.go_live import open_live

ENTER_OFTEN = {"min_confidence": 0.3, "cooldown_s": 0, "iv_rank_max": 100.0, "iv_rank_min": 0.0}
BEFORE_ENTRIES = session_time(11, 4)  # on the fake's seeded market the rules buy puts at 11:06 and 11:07


def live_env(server: FakeAlpacaServer) -> dict[str, str]:
    return {**os.environ, **alpaca_env(server.url, ALPACA_MAX_REQUESTS_PER_MINUTE="100000"),
            "LIVE_TRADING_CONFIRM": LIVE_CONFIRMATION, "PYTHONUNBUFFERED": "1"}  # fmt: skip


def start_live(url: str, server: FakeAlpacaServer) -> subprocess.Popen[str]:
    args = ["--mode", "live", "--db", url, "--model", "none", "--poll-seconds", "0.2", "--settle-seconds", "0"]
    return subprocess.Popen([sys.executable, "-m", "worker", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=live_env(server))  # fmt: skip


def test_a_live_start_on_an_empty_record_is_refused_with_every_failing_criterion(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with_params(url, policy_mode="rules")
    with fake_alpaca(start=session_time(10, 0)) as server:
        proc = start_live(url, server)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "worker refused to start: go-live gate not met" in out
    assert "[FAIL] paper sessions: 0 (needs >= 20; n=0) -- missing: 20 more paper sessions" in out
    assert "[FAIL] profit factor" in out and "python -m worker.go_live override" in out
    assert not server.state.orders, "nothing reached the broker"
    assert rows(create_engine(url), "SELECT count(*) FROM decision") == [(0,)]


def test_a_record_that_meets_the_gate_starts_live_at_full_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **SMALL_GATE)
    engine = create_engine(url)
    seed_paper_record(engine, version)
    assert gate_status(engine) == "go-live gate met: every criterion passes", "the daily summary's line"
    with fake_alpaca(start=session_time(10, 0)) as server:
        proc = start_live(url, server)
        try:
            wait_for(engine, "SELECT count(*) FROM decision d JOIN run r ON r.id = d.run_id WHERE r.mode = 'live'",
                     lambda r: r[0] >= 2, proc, timeout_s=60)  # fmt: skip
        finally:
            out = stop_worker(proc)
    assert "go-live gate met: live trading at full size" in out


def test_a_failing_criterion_of_a_seeded_record_refuses_the_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **SMALL_GATE, gate_min_profit_factor=9.0)
    engine = create_engine(url)
    seed_paper_record(engine, version)
    record = paper_record(engine, version, "rules-1", TradingParams(**SMALL_GATE))
    assert record.sessions == list(PAPER_DAYS) and len(record.trade_pnls) == 15 and len(record.parity) == 2
    with fake_alpaca(start=session_time(10, 0)) as server:
        proc = start_live(url, server)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "[FAIL] profit factor" in out and "[pass] paper sessions: 3" in out


def test_an_override_is_refused_field_by_field_and_stores_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with_params(url, policy_mode="rules")
    engine = create_engine(url)
    bad = [
        ({"reason": "short"}, "reason: a typed reason of at least 10 characters"),
        ({"size_cap": 1.0}, "size_cap: must be above 0 and at most 0.5"),
        ({"sessions": 0}, "sessions: must be 1 to 20"),
    ]
    for edit, message in bad:
        kwargs = {"who": "ops", "reason": "a test of the gate's override", "size_cap": 0.1, "sessions": 5,
                  "model_version": "rules-1", **edit}  # fmt: skip
        with pytest.raises(OverrideError, match=message):
            grant_override(engine, **kwargs)  # type: ignore[arg-type]
    assert rows(engine, "SELECT count(*) FROM live_override") == [(0,)]
    assert rows(engine, "SELECT count(*) FROM event WHERE code = 'live_override'") == [(0,)]


def test_an_override_trades_live_at_its_cap_and_its_expiry_returns_the_worker_to_paper(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with_params(url, policy_mode="rules")
    engine = create_engine(url)
    granted = subprocess.run(
        [sys.executable, "-m", "worker.go_live", "override", "--db", url, "--model", "none", "--by", "ops",
         "--reason", "five sessions at a tenth to test the fills", "--size-cap", "0.1", "--sessions", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "override 1 granted: 1 live sessions at 10% of the size, model rules-1" in granted
    alert = rows(engine, "SELECT id, time, level, code, message FROM event WHERE code = 'live_override'")
    assert alert and alert[0][2] == "warning" and "Reason: five sessions at a tenth" in alert[0][4]
    sent = event_alert(EventRow(*alert[0]))  # type: ignore[arg-type]
    assert sent is not None and sent.kind is AlertKind.GO_LIVE
    with fake_alpaca(start=session_time(10, 0)) as server:
        proc = start_live(url, server)
        try:
            wait_for(engine, "SELECT count(*) FROM decision d JOIN run r ON r.id = d.run_id WHERE r.mode = 'live'",
                     lambda r: r[0] >= 2, proc, timeout_s=60)  # fmt: skip
            assert rows(engine, "SELECT used_days FROM live_override") == [(f'["{SESSION_DAY.isoformat()}"]',)]
            with server.state.lock:  # the next session: the override has no session left
                server.state.now = (session_time(10, 0) + timedelta(days=1)).astimezone(UTC)
            wait_for(engine, "SELECT count(*) FROM decision d JOIN run r ON r.id = d.run_id WHERE r.mode = 'paper'",
                     lambda r: r[0] >= 2, proc, timeout_s=90)  # fmt: skip
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
    assert "returning to paper" in out
    ended = rows(engine, "SELECT ended_reason FROM live_override")
    assert ended == [("expired",)]
    assert active_override(engine) is None
    expired = rows(engine, "SELECT level, message FROM event WHERE code = 'live_override' ORDER BY id")
    assert expired[-1][0] == "error" and "returns to paper" in expired[-1][1]
    with Session(engine) as s:
        assert s.get(LiveOverride, 1) is not None and s.get(Event, 1) is not None


LIVE_DECISIONS = "SELECT count(*) FROM decision d JOIN run r ON r.id = d.run_id WHERE r.mode = 'live'"
OPENING_ORDERS = "SELECT count(*) FROM orders WHERE opening"
PAPER_ON_THE_FAKE = (
    "SELECT count(*) FROM decision d JOIN run r ON r.id = d.run_id "
    "WHERE r.mode = 'paper' AND r.trading_host = '127.0.0.1'"
)


def _next_cycle(engine: Engine, server: FakeAlpacaServer, proc: subprocess.Popen[str]) -> None:
    """One more minute on the broker's clock, and the live cycle of that minute done (each cycle
    decides once per symbol, SPY and QQQ)."""
    done = int(rows(engine, LIVE_DECISIONS)[0][0])
    server.state.advance(1)
    wait_for(engine, LIVE_DECISIONS, lambda r: r[0] >= done + 2, proc, timeout_s=60)


def _refused_within_a_cycle(engine: Engine, server: FakeAlpacaServer, proc: subprocess.Popen[str]) -> None:
    """After a change the gate refuses: the next cycle sets REDUCING with the gate's reason, an
    alert goes out, and no entry is sent from then on; the next session is traded on paper."""
    _next_cycle(engine, server, proc)
    assert rows(engine, "SELECT state, reason_code FROM controlstate") == [("REDUCING", "go_live_gate")]
    event = rows(engine, "SELECT id, time, level, code, message FROM event WHERE code = 'go_live_gate'")
    assert event and event[0][2] == "error" and "stops opening positions now" in event[0][4], event
    sent = event_alert(EventRow(*event[0]))  # type: ignore[arg-type]
    assert sent is not None and sent.kind is AlertKind.GO_LIVE
    opened = rows(engine, OPENING_ORDERS)
    for _ in range(3):  # three more live cycles
        _next_cycle(engine, server, proc)
    live = "FROM decision d JOIN run r ON r.id = d.run_id WHERE r.mode = 'live' AND d.time >= (SELECT min(at) " \
        "FROM controlevent WHERE reason_code = 'go_live_gate')"  # fmt: skip
    assert rows(engine, f"SELECT count(*) {live} AND d.final_action NOT IN ('hold', 'close')") == [(0,)]
    blocked = rows(engine, f"SELECT d.symbol, substr(d.time, 1, 16) {live} AND d.blocked_by = 'trading_state'")
    wanted = [("SPY", BEFORE_ENTRIES + timedelta(minutes=2)), ("QQQ", BEFORE_ENTRIES + timedelta(minutes=3))]
    assert {(s, f"{t.astimezone(UTC):%Y-%m-%d %H:%M}") for s, t in wanted} <= set(blocked), blocked
    assert rows(engine, OPENING_ORDERS) == opened, "no entry after the refusal"
    with server.state.lock:  # the next session: back to paper
        server.state.now = (session_time(10, 0) + timedelta(days=1)).astimezone(UTC)
    wait_for(engine, PAPER_ON_THE_FAKE, lambda r: r[0] >= 2, proc, timeout_s=90)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out


def test_a_parameter_edit_saved_while_live_is_judged_by_the_gate_within_a_cycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **SMALL_GATE, **ENTER_OFTEN)
    engine = create_engine(url)
    seed_paper_record(engine, version)
    with fake_alpaca(start=BEFORE_ENTRIES) as server:
        proc = start_live(url, server)
        try:
            wait_for(engine, LIVE_DECISIONS, lambda r: r[0] >= 2, proc, timeout_s=60)
            edited = save_param_version(engine, {**SMALL_GATE, **ENTER_OFTEN, "risk_per_trade_pct": 2.0,
                                                 "max_contracts": 10}, author="alice", note="bigger")  # fmt: skip
            _refused_within_a_cycle(engine, server, proc)
        finally:
            out = _stop(proc)
    assert "go-live gate met: live trading at full size" in out and "returning to paper" in out
    stops = rows(engine, "SELECT message FROM event WHERE code = 'go_live_gate' ORDER BY id")
    assert f"the parameter version changed from {version} to {edited.id}" in stops[0][0]
    assert f"parameter version {edited.id} with model rules-1 has no paper record" in stops[0][0]
    assert any("Back to paper at the session of" in m for (m,) in stops)
    assert rows(engine, "SELECT trading_host FROM run WHERE mode = 'live'") == [("127.0.0.1",)]
    assert rows(engine, "SELECT state FROM controlstate") == [("ACTIVE",)], "paper trades to earn the record"


def test_a_revoked_override_stops_the_live_worker_within_a_cycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with_params(url, policy_mode="rules", **ENTER_OFTEN)
    engine = create_engine(url)
    grant_override(engine, who="ops", reason="five sessions at a tenth to test the fills", size_cap=0.1, sessions=5,
                   model_version="rules-1")  # fmt: skip
    with fake_alpaca(start=BEFORE_ENTRIES) as server:
        proc = start_live(url, server)
        try:
            wait_for(engine, LIVE_DECISIONS, lambda r: r[0] >= 2, proc, timeout_s=60)
            revoke = [sys.executable, "-m", "worker.go_live", "revoke", "--db", url, "--by", "ops"]
            revoked = subprocess.run(revoke, cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
            assert "override 1 revoked" in revoked
            _refused_within_a_cycle(engine, server, proc)
        finally:
            out = _stop(proc)
    assert "returning to paper" in out
    stops = rows(engine, "SELECT message FROM event WHERE code = 'go_live_gate' ORDER BY id")
    assert "override 1 is no longer in force" in stops[0][0] and "no override covers it" in stops[0][0]
    assert rows(engine, "SELECT used_days FROM live_override") == [(f'["{SESSION_DAY.isoformat()}"]',)]


def test_the_live_guard_judges_only_a_change_and_a_refusal_outlasts_a_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    version = with_params(url, **SMALL_GATE)
    engine = create_engine(url)
    seed_paper_record(engine, version)
    guard = open_live(engine, "rules-1")
    judged: list[int] = []
    real = go_live.judge

    def counting(*args: object) -> object:
        judged.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(go_live, "judge", counting)
    params = TradingParams(**SMALL_GATE)
    now = session_time(10, 0)

    def control() -> ControlSnapshot:
        with Session(engine) as s:
            return read_control(s)

    for _ in range(5):  # unchanged versions, no override: the gate's report is not made again
        assert guard.check(control(), "rules-1", params, now).state is TradingState.ACTIVE
    assert judged == [] and guard.size_cap == 1.0
    grant_override(engine, who="ops", reason="a tenth, to test the fills", size_cap=0.1, sessions=2,
                   model_version="rules-1")  # fmt: skip
    assert guard.check(control(), "rules-1", params, now).state is TradingState.ACTIVE
    assert judged == [1] and guard.size_cap == 1.0, "the gate is met: full size, whatever the override"
    assert guard.check(control(), "rules-1+rppo", params, now).state is TradingState.REDUCING  # a new policy
    assert control().reason_code == "go_live_gate" and len(judged) == 2 and guard.stopped
    set_trading_state(engine, TradingState.ACTIVE, "alice", "operator_resume", "resumed")  # the refusal stands
    assert guard.check(control(), "rules-1+rppo", params, now).state is TradingState.REDUCING
    assert len(judged) == 2 and control().state is TradingState.REDUCING
    assert not guard.on_session(SESSION_DAY + timedelta(days=1)), "back to paper at the next session"
