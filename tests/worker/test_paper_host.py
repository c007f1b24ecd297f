"""Paper is paper: `--mode paper` trades only on Alpaca's paper endpoint or a loopback fake, a
live worker only on Alpaca's live endpoint or a loopback fake, every run records the host it
traded on, and only paper runs on Alpaca's paper endpoint earn the go-live gate's record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from core.params import TradingParams
from db.go_live import paper_record
from tests.alpaca_helpers import SESSION_DAY, fake_alpaca, paper_runtime, session_time
from tests.conftest import with_params
from tests.fake_alpaca import alpaca_env
from tests.go_live_helpers import PAPER_DAYS, SMALL_GATE, seed_paper_record
from tests.support import ROOT
from tests.worker.test_paper_worker import rows
from worker.adapters.alpaca_http import LIVE_CONFIRMATION, AlpacaSettings, SettingsError

DEAD_PROXY = "http://127.0.0.1:9"  # any request that would leave this machine meets a closed port instead
LIVE_URL = "https://api.alpaca.markets"
PAPER_URL = "https://paper-api.alpaca.markets"
OTHER_URL = "https://broker.example"  # neither Alpaca's nor this machine's


def start(mode: str, trading_url: str, db: Path) -> tuple[int | None, str]:
    """`python -m worker --mode MODE` as an operator runs it, with ALPACA_TRADING_URL set; the
    network is out of reach (every request goes to a closed local port)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env |= alpaca_env(trading_url, ALPACA_DATA_URL=trading_url, HTTPS_PROXY=DEAD_PROXY, HTTP_PROXY=DEAD_PROXY)
    env |= {"LIVE_TRADING_CONFIRM": LIVE_CONFIRMATION, "PYTHONUNBUFFERED": "1"}
    args = ["--mode", mode, "--db", f"sqlite:///{db}", "--model", "none", "--poll-seconds", "0.2"]
    proc = subprocess.Popen([sys.executable, "-m", "worker", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:  # it started and kept running: not refused
        proc.kill()
        out, _ = proc.communicate()
        return None, out
    return proc.returncode, out


@pytest.mark.parametrize(
    ("mode", "url", "host", "why"),
    [
        ("paper", LIVE_URL, "api.alpaca.markets", "that is Alpaca's live endpoint: real money"),
        ("paper", OTHER_URL, "broker.example", "neither Alpaca's endpoint for this mode nor a loopback address"),
        ("live", OTHER_URL, "broker.example", "neither Alpaca's endpoint for this mode nor a loopback address"),
    ],
)
def test_a_worker_refuses_to_start_on_a_host_its_mode_may_not_trade_on(
    tmp_path: Path, mode: str, url: str, host: str, why: str
) -> None:
    code, out = start(mode, url, tmp_path / "w.db")
    assert code is not None and code != 0, out
    wanted = "https://paper-api.alpaca.markets" if mode == "paper" else "https://api.alpaca.markets"
    assert f"worker refused to start: --mode {mode} trades only on {wanted} or a loopback fake" in out, out
    assert f"ALPACA_TRADING_URL points at {host}: {why}" in out, out
    assert not (tmp_path / "w.db").exists(), "refused before the database is touched: no run recorded"


def test_each_mode_accepts_its_alpaca_endpoint_and_loopback_only() -> None:
    keys = {"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s", "LIVE_TRADING_CONFIRM": LIVE_CONFIRMATION}
    allowed = {
        "paper": [PAPER_URL, f"{PAPER_URL}/", "http://127.0.0.1:8080", "http://127.9.0.1", "http://localhost:1",
                  "http://[::1]:8080", None],
        "live": [LIVE_URL, "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:1", None],
    }  # fmt: skip
    refused = {
        "paper": [LIVE_URL, OTHER_URL, "http://paper-api.alpaca.markets", "https://paper-api.alpaca.markets.example",
                  "http://10.0.0.1", "http://localhost.example", "http://[::ffff:8.8.8.8]"],
        "live": [PAPER_URL, OTHER_URL, "http://api.alpaca.markets", "http://192.168.1.2"],
    }  # fmt: skip
    for mode, urls in allowed.items():
        for url in urls:
            env = keys if url is None else {**keys, "ALPACA_TRADING_URL": url}
            assert AlpacaSettings.from_env(mode, env).trading_host in ("paper-api.alpaca.markets",
                "api.alpaca.markets", "127.0.0.1", "127.9.0.1", "localhost", "::1"), url  # fmt: skip
    for mode, urls in refused.items():
        for url in urls:
            with pytest.raises(SettingsError, match="ALPACA_TRADING_URL points at"):
                AlpacaSettings.from_env(mode, {**keys, "ALPACA_TRADING_URL": url})


def test_runs_record_their_host_and_a_paper_run_against_a_fake_earns_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    version = with_params(url, **SMALL_GATE)
    engine = create_engine(url)
    with fake_alpaca(start=session_time(10, 0)) as server:
        rt = paper_runtime(server, url, monkeypatch)  # the paper worker's runtime, started on the loopback fake
        for _ in range(3):
            rt.cycle.run(server.state.now)
            server.state.advance(1)
        rt.journal.flush()
    assert rows(engine, "SELECT mode, trading_host FROM run") == [("paper", "127.0.0.1")]
    decided = rows(engine, "SELECT DISTINCT date(time), param_version, model_version FROM decision")
    assert decided == [(SESSION_DAY.isoformat(), version, "rules-1")], "it traded paper with these versions"
    params = TradingParams(**SMALL_GATE)
    assert paper_record(engine, version, "rules-1", params).sessions == [], "a fake earns no paper record"
    seed_paper_record(engine, version)  # a record on Alpaca's paper endpoint counts, beside it
    assert rows(engine, "SELECT trading_host FROM run WHERE id = 'worker-paper'") == [("paper-api.alpaca.markets",)]
    assert paper_record(engine, version, "rules-1", params).sessions == list(PAPER_DAYS)
