"""Download real option minute bars from Alpaca into the local Parquet cache, a day at a time.

For each trading day and underlying not yet in the cache: the day's opening price of the
underlying (one daily-bars request for the whole range), the same-day contracts on the $1 grid
within `--strike-range` of it, their minute bars (alpaca-py's `OptionHistoricalDataClient`,
paged by alpaca-py, in batches of symbols), checked row by row (`core/options/bar_checks.py`)
and written as that day's file; with `--trades`, also every trade of the contracts that have
bars (where Alpaca serves them: a refusal is reported once and the run goes on with bars).
A day is written whole or not at all (its trades before its bars, the bars file marking the day
done), so a run stopped at any point (Ctrl-C, a network failure, the request budget) resumes
where it stopped, asking nothing twice that was saved. Requests go through the shared guarded
session: its timeout and the per-minute budget (ALPACA_MAX_REQUESTS_PER_MINUTE); 429s and 5xx are retried with a growing
wait, then the run stops with what it saved. Alpaca serves option history from February 2024.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from alpaca.data.requests import OptionBarsRequest, OptionTradesRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from tqdm import tqdm

from core.calendar import NY, Session, sessions_between
from core.options.bar_checks import CheckReport, check_bars
from core.options.history import OptionHistory
from core.types import OptionContract, Right
from worker.adapters.alpaca_http import AlpacaClients, BrokerUnavailableError, is_transient

log = logging.getLogger("worker.option_history")

FIRST_DAY = date(2024, 2, 1)  # Alpaca's option history starts here
SYMBOLS_PER_REQUEST = 100  # keeps the query string short; alpaca-py pages each request itself
MAX_TRIES = 5


class DownloadStoppedError(RuntimeError):
    """The run stopped before the end; what it saved stays, and running it again resumes."""


@dataclass
class DownloadResult:
    """What a run did: days written, skipped (already cached), left (no underlying price), rows."""

    written: list[tuple[str, date]] = field(default_factory=list)
    skipped: int = 0
    no_price: list[tuple[str, date]] = field(default_factory=list)
    report: CheckReport = field(default_factory=CheckReport)
    requests: int = 0
    trades: int = 0  # option trades stored (with --trades)
    trades_refused: str | None = None  # why Alpaca served no trades, when it refused them


def contracts_around(underlying: str, day: date, price: float, strike_range_pct: float) -> list[str]:
    """Same-day calls and puts on the $1 grid within `strike_range_pct` % of `price`."""
    low = int(price * (1.0 - strike_range_pct / 100.0))
    high = int(price * (1.0 + strike_range_pct / 100.0)) + 1
    return [OptionContract(underlying, day, float(k), right).symbol for k in range(low, high + 1) for right in Right]


class AlpacaOptionHistory:
    """The downloader; `sleep` is injectable so the tests wait on the fake, not on the clock."""

    def __init__(
        self, clients: AlpacaClients, history: OptionHistory, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.clients = clients
        self.history = history
        self.sleep = sleep

    def download(
        self,
        underlyings: list[str],
        start: date,
        end: date,
        strike_range_pct: float = 3.0,
        progress: bool = True,
        trades: bool = False,
    ) -> DownloadResult:
        result = DownloadResult()
        if start < FIRST_DAY:
            log.warning("Alpaca serves option history from %s; starting there", FIRST_DAY)
            start = FIRST_DAY
        sessions = sessions_between(start, end)
        todo = [(u, s) for s in sessions for u in underlyings if not self.history.has_day(u, s.day)]
        result.skipped = len(sessions) * len(underlyings) - len(todo)
        if not todo:
            return result
        opens = self._daily_opens(underlyings, todo[0][1].day, todo[-1][1].day, result)
        bar = tqdm(todo, desc="option history", unit="day", disable=not progress)
        for underlying, session in bar:
            bar.set_postfix_str(f"{underlying} {session.day}")
            price = opens.get((underlying, session.day))
            if price is None:
                result.no_price.append((underlying, session.day))
                continue
            symbols = contracts_around(underlying, session.day, price, strike_range_pct)
            raw = self._day_bars(symbols, session, result)
            kept, report = check_bars(raw, underlying, "same_day")
            if trades and result.trades_refused is None:  # before the bars: the bars file marks the day done
                traded = sorted(kept["contract"].unique())
                day_trades = self._day_trades(traded, session, result)
                if day_trades is not None:
                    self.history.write_trades(underlying, session.day, day_trades)
                    result.trades += len(day_trades)
            self.history.write_day(underlying, session.day, kept)
            result.written.append((underlying, session.day))
            result.report.merge(report)
        return result

    def _daily_opens(
        self, underlyings: list[str], first: date, last: date, result: DownloadResult
    ) -> dict[tuple[str, date], float]:
        start = datetime(first.year, first.month, first.day, tzinfo=NY)
        end = datetime(last.year, last.month, last.day, 23, 59, tzinfo=NY)
        request = StockBarsRequest(
            symbol_or_symbols=underlyings,
            timeframe=TimeFrame.Day,
            start=start,
            end=end,
            feed=self.clients.settings.stock_feed,
        )
        got = self._call(lambda: self.clients.stocks.get_stock_bars(request), result)
        return {
            (symbol, b.timestamp.astimezone(NY).date()): float(b.open)
            for symbol, bars in got.data.items()
            for b in bars
        }

    def _day_bars(self, symbols: list[str], session: Session, result: DownloadResult) -> pd.DataFrame:
        rows: list[dict[str, object]] = []
        for i in range(0, len(symbols), SYMBOLS_PER_REQUEST):
            request = OptionBarsRequest(
                symbol_or_symbols=symbols[i : i + SYMBOLS_PER_REQUEST],
                timeframe=TimeFrame.Minute,
                start=session.open,
                end=session.close - timedelta(seconds=1),
            )
            got = self._call(lambda request=request: self.clients.options.get_option_bars(request), result)
            for symbol, bars in got.data.items():
                rows.extend(
                    {
                        "contract": symbol,
                        "time": b.timestamp,
                        "open": b.open,
                        "high": b.high,
                        "low": b.low,
                        "close": b.close,
                        "volume": b.volume,
                        "vwap": b.vwap,
                        "trades": b.trade_count,
                    }
                    for b in bars
                )
        columns = ["contract", "time", "open", "high", "low", "close", "volume", "vwap", "trades"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def _day_trades(self, symbols: list[str], session: Session, result: DownloadResult) -> pd.DataFrame | None:
        """Every trade of `symbols` in the session; None when Alpaca does not serve them (the run
        then goes on with bars alone, and says why)."""
        rows: list[dict[str, object]] = []
        for i in range(0, len(symbols), SYMBOLS_PER_REQUEST):
            request = OptionTradesRequest(
                symbol_or_symbols=symbols[i : i + SYMBOLS_PER_REQUEST],
                start=session.open,
                end=session.close - timedelta(seconds=1),
            )
            try:
                got = self._call(lambda request=request: self.clients.options.get_option_trades(request), result)
            except DownloadStoppedError as refused:
                if refused.__cause__ is None or is_transient(refused.__cause__):
                    raise
                result.trades_refused = str(refused)
                log.warning("option trades not served (%s); going on with bars alone", refused)
                return None
            for symbol, trades in got.data.items():
                rows.extend({"contract": symbol, "time": t.timestamp, "price": t.price, "size": t.size} for t in trades)
        frame = pd.DataFrame(rows, columns=["contract", "time", "price", "size"])
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def _call(self, request: Callable[[], Any], result: DownloadResult) -> Any:
        """One alpaca-py call; a spent budget waits, a transient failure is retried with a growing
        wait (MAX_TRIES), anything else (a 403: no data subscription) stops the run at once."""
        failures = 0
        while True:
            result.requests += 1
            try:
                return request()
            except BrokerUnavailableError as exc:
                if "budget" in str(exc):
                    self.sleep(1.0)
                    continue
                failures += 1
                error: Exception = exc
            except Exception as exc:  # alpaca-py raises APIError or requests' errors
                if not is_transient(exc):
                    raise DownloadStoppedError(f"Alpaca refused the request: {exc}") from exc
                failures += 1
                error = exc
            if failures >= MAX_TRIES:
                raise DownloadStoppedError(
                    f"{failures} failures in a row ({error}); the days saved so far stay, run again to resume"
                ) from error
            wait = 2.0**failures
            log.warning("option history request failed (%s); trying again in %.0f s", error, wait)
            self.sleep(wait)
