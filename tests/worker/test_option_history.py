"""Real option bars into the cache: Alpaca's historical option bars through alpaca-py against the
fake server (pages, gaps, contracts without bars, a 429, a run stopped halfway and resumed), and
a vendor's file (the shared Polygon trade bars) through the import command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.calendar import NY, session_for
from core.market.sim_market import SimMarket
from core.options.history import OptionHistory
from core.types import OptionContract, PriceSource, Right
from tests.alpaca_helpers import SESSION_DAY, clients_for, fake_alpaca
from tests.fake_alpaca import FakeAlpacaServer, alpaca_env
from tests.support import ROOT
from worker.adapters.alpaca_option_history import AlpacaOptionHistory, DownloadStoppedError
from worker.offline.option_history import main as option_history_main

SHARED_BARS = (
    Path(__file__).resolve().parents[3]
    / "shared/data/options/SPY_option_1min_tradebars_2025-08-29_exp2025-09-02_polygon.csv"
)
NEXT_DAY = SESSION_DAY + timedelta(days=1)


def _wire(moment: datetime, price: float, volume: int = 3) -> dict[str, object]:
    stamp = moment.astimezone(NY).astimezone(tz=None).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"t": stamp, "o": price, "h": price + 0.02, "l": price - 0.02, "c": price, "v": volume, "n": 2, "vw": price}


def _serve_day(server: FakeAlpacaServer, day: date, minutes: list[int]) -> list[str]:
    """Bars for two near-the-money same-day calls at `minutes` after the open; returns their symbols."""
    session = session_for(day)
    assert session is not None
    spot = float(server.state.market.world.session_bars(session, "SPY").open[0])
    symbols = []
    for offset in (0, 2):
        contract = OptionContract("SPY", day, float(round(spot) + offset), Right.CALL)
        rows = [_wire(session.at(m).astimezone(NY), 1.5 + 0.01 * m) for m in minutes]
        server.state.option_bars[contract.symbol] = rows
        symbols.append(contract.symbol)
    return symbols


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(NY)


def test_a_download_reads_every_page_retries_a_429_and_stores_each_bar_once(tmp_path: Path) -> None:
    with fake_alpaca() as server:
        gaps = [1, 2, 5, 9, 30]  # minutes with trades; the rest have none
        symbols = _serve_day(server, SESSION_DAY, gaps)
        bad = OptionContract("SPY", SESSION_DAY, 1.0, Right.PUT).symbol  # a far strike nobody asks for
        server.state.option_bars[bad] = [_wire(session_for(SESSION_DAY).at(3), 0.0)]  # type: ignore[union-attr]
        crossed_row = dict(server.state.option_bars[symbols[0]][0], h=1.0, l=2.0)
        server.state.option_bars[symbols[0]].append(crossed_row)  # the same minute again, crossed
        other_price = dict(server.state.option_bars[symbols[1]][0], o=1.7, h=1.7, l=1.7, c=1.7)
        server.state.option_bars[symbols[1]].append(other_price)  # the same minute at another price
        server.state.option_bar_page_size = 3
        server.state.fault("GET /v1beta1/options/bars", "429")
        history = OptionHistory(tmp_path / "cache")
        waits: list[float] = []
        result = AlpacaOptionHistory(clients_for(server), history, sleep=waits.append).download(
            ["SPY"], SESSION_DAY, SESSION_DAY, progress=False
        )
        option_requests = [p for _, p in server.state.requests if p == "/v1beta1/options/bars"]
    assert waits == [2.0], "one 429, one wait, then the same request again"
    assert result.written == [("SPY", SESSION_DAY)]
    stored = history.read_frame("SPY", SESSION_DAY)
    assert sorted(stored["contract"].unique()) == sorted(symbols), "contracts without bars are simply absent"
    assert len(stored) == 2 * len(gaps) - 1 and not stored.duplicated(["contract", "time"]).any()
    assert result.report.refused == {"crossed": 1, "conflicting_duplicate": 2}, "which price was right is unknown"
    assert len(option_requests) >= 1 + (2 * len(gaps) + 2) // 3, "every page was read"
    first = stored[stored["contract"] == symbols[0]].iloc[0]
    assert first["time"] == session_for(SESSION_DAY).at(1) and first["open"] == pytest.approx(1.51)  # type: ignore[union-attr]
    assert stored[stored["contract"] == symbols[1]]["time"].min() == session_for(SESSION_DAY).at(2)  # type: ignore[union-attr]


class _StopsAfterFirstDay(OptionHistory):
    """A cache whose first saved day makes the fake fail from then on (a network that goes away)."""

    def __init__(self, folder: Path, server: FakeAlpacaServer) -> None:
        super().__init__(folder)
        self.server = server

    def write_day(self, underlying: str, day: date, bars: pd.DataFrame) -> Path:
        path = super().write_day(underlying, day, bars)
        self.server.state.fault("GET /v1beta1/options/bars", "500", times=50)
        return path


def test_a_download_stopped_halfway_resumes_without_asking_twice_or_storing_twice(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with fake_alpaca() as server:
        _serve_day(server, SESSION_DAY, [1, 2, 3])
        _serve_day(server, NEXT_DAY, [4, 5])
        stopping = _StopsAfterFirstDay(folder, server)
        with pytest.raises(DownloadStoppedError, match="run again to resume"):
            AlpacaOptionHistory(clients_for(server), stopping, sleep=lambda _: None).download(
                ["SPY"], SESSION_DAY, NEXT_DAY, progress=False
            )
        assert stopping.days("SPY") == [SESSION_DAY], "the day saved stays; the failed day left nothing"
        first_file = stopping.path("SPY", SESSION_DAY).read_bytes()
        server.state.faults.clear()
        server.state.requests.clear()
        history = OptionHistory(folder)
        result = AlpacaOptionHistory(clients_for(server), history, sleep=lambda _: None).download(
            ["SPY"], SESSION_DAY, NEXT_DAY, progress=False
        )
        asked = [p for _, p in server.state.requests if p == "/v1beta1/options/bars"]
    assert result.skipped == 1 and result.written == [("SPY", NEXT_DAY)]
    assert len(asked) == 1, "only the missing day is asked for"
    assert history.path("SPY", SESSION_DAY).read_bytes() == first_file
    assert len(history.read_frame("SPY", NEXT_DAY)) == 4


@pytest.mark.skipif(not SHARED_BARS.is_file(), reason="../shared/data/options trade bars are not on this machine")
def test_the_shared_vendor_file_imports_row_by_row_and_a_second_import_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(tmp_path / "cache")
    assert option_history_main(["--folder", folder, "import", str(SHARED_BARS)]) == 0
    out = capsys.readouterr().out
    assert "0 of 917 rows kept" in out and "refused 875 rows: wrong_expiry" in out, "not same-day: refused"
    assert option_history_main(["--folder", folder, "import", str(SHARED_BARS), "--expiry", "2025-09-02"]) == 0
    out = capsys.readouterr().out
    assert "875 of 917 rows kept" in out and "refused 42 rows: outside_session" in out
    history = OptionHistory(folder)
    day = date(2025, 8, 29)
    stored = history.read_frame("SPY", day)
    assert len(stored) == 875 and stored["contract"].nunique() == 10
    assert option_history_main(["--folder", folder, "import", str(SHARED_BARS), "--expiry", "any"]) == 0
    assert "refused 875 rows: duplicate" in capsys.readouterr().out
    assert len(history.read_frame("SPY", day)) == 875


def test_an_import_without_the_needed_columns_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bars.csv"
    pd.DataFrame({"contract": ["SPY251124C00600000"], "close": [1.0]}).to_csv(bad, index=False)
    assert option_history_main(["--folder", str(tmp_path / "c"), "import", str(bad)]) == 2
    assert not (tmp_path / "c").exists()


def test_the_download_command_runs_as_a_user_runs_it(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with fake_alpaca() as server:
        _serve_day(server, SESSION_DAY, [1, 2, 3])
        env = {**os.environ, **alpaca_env(server.url)}
        args = [sys.executable, "-m", "worker.option_history", "--folder", str(folder), "download",
                "--symbols", "SPY", "--start", SESSION_DAY.isoformat(), "--end", SESSION_DAY.isoformat()]  # fmt: skip
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 days written" in done.stdout and "6 of 6 rows kept" in done.stdout
    assert "option history" in done.stderr, "the progress bar"
    assert again.returncode == 0 and "0 days written, 1 already cached" in again.stdout
    no_keys = {k: v for k, v in os.environ.items() if not k.startswith("APCA_")}
    refused = subprocess.run(args, cwd=ROOT, env=no_keys, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "APCA_API_KEY_ID" in refused.stderr


def _trade(moment: datetime, price: float) -> dict[str, object]:
    return {"t": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "x": "C", "p": price, "s": 1, "c": "I"}


def test_trades_where_alpaca_serves_them_price_the_moments_inside_a_minute(tmp_path: Path) -> None:
    session = session_for(SESSION_DAY)
    assert session is not None
    with fake_alpaca() as server:
        symbols = _serve_day(server, SESSION_DAY, [10, 11])
        minute = session.at(10)
        server.state.option_trades[symbols[0]] = [
            _trade(minute + timedelta(seconds=5), 1.55),
            _trade(minute + timedelta(seconds=40), 1.62),
        ]
        server.state.option_bar_page_size = 1  # the trades come one a page
        history = OptionHistory(tmp_path / "cache")
        result = AlpacaOptionHistory(clients_for(server), history, sleep=lambda _: None).download(
            ["SPY"], SESSION_DAY, SESSION_DAY, progress=False, trades=True
        )
        market = SimMarket(server.state.market.world, option_history=history)
    assert result.trades == 2 and result.trades_refused is None
    assert history.trades_path("SPY", SESSION_DAY).is_file()
    contract = OptionContract.from_symbol(symbols[0])
    early = market.quote_at(contract, minute + timedelta(seconds=20))
    late = market.quote_at(contract, minute + timedelta(seconds=50))
    assert early is not None and late is not None and early.price_source is PriceSource.REAL_BAR
    assert early.bid <= 1.55 <= early.ask and late.bid <= 1.62 <= late.ask, "the last trade before each moment"
    before_any = market.quote_at(contract, minute + timedelta(seconds=2))
    assert before_any is not None and before_any.bid <= 1.6 <= before_any.ask, "no trade yet: the bar's open"


def test_a_refusal_of_trades_leaves_the_bars_and_says_why(tmp_path: Path) -> None:
    with fake_alpaca() as server:
        _serve_day(server, SESSION_DAY, [1, 2])
        server.state.option_trades_refused = True
        history = OptionHistory(tmp_path / "cache")
        result = AlpacaOptionHistory(clients_for(server), history, sleep=lambda _: None).download(
            ["SPY"], SESSION_DAY, NEXT_DAY, progress=False, trades=True
        )
        asked = [p for _, p in server.state.requests if p == "/v1beta1/options/trades"]
    assert result.written == [("SPY", SESSION_DAY), ("SPY", NEXT_DAY)], "the bars are still stored"
    assert result.trades == 0 and result.trades_refused is not None and "option trades" in result.trades_refused
    assert len(asked) == 1, "asked once, then the run goes on with bars alone"
    assert not history.trades_path("SPY", SESSION_DAY).exists()
