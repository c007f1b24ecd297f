"""Alpaca connection discipline: settings from the environment, a timeout on every HTTP call,
a shared request budget, and alpaca-py clients with their own POST retries switched off.

alpaca-py sets no HTTP timeout and retries any request (POST included) on 429 and 504: after a
504 that followed an accepted order that is a second submit. Every client built here uses one
`GuardedSession` (timeout, budget, call timing) and retries nothing; the callers decide what
a failure means (a submit looks its order up by client order id before anything else).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from core.gate import PAPER_TRADING_HOST

log = logging.getLogger("worker.alpaca")

PAPER_TRADING_URL = "https://paper-api.alpaca.markets"
LIVE_TRADING_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
ALPACA_REQUESTS_PER_MINUTE = 200  # Alpaca's limit; only a non-Alpaca endpoint (a test, a proxy) may go higher
LIVE_CONFIRMATION = "I_UNDERSTAND_THIS_IS_REAL_MONEY"
PAPER_HOST = PAPER_TRADING_HOST  # the only host whose paper runs earn the go-live record
LIVE_HOST = "api.alpaca.markets"
MODE_HOSTS = {"paper": PAPER_HOST, "live": LIVE_HOST}  # the Alpaca endpoint each mode may trade on


class BrokerUnavailableError(RuntimeError):
    """The broker or its data service did not answer usefully (timeout, reset, 429, 5xx)."""


class SettingsError(ValueError):
    """A missing or contradictory setting; the message names the variable."""


@dataclass(frozen=True)
class AlpacaSettings:
    """Everything that reaches Alpaca, read from the environment (never from the database)."""

    mode: str  # paper | live
    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    trading_url: str
    data_url: str
    stock_feed: str = "iex"
    options_feed: str = "indicative"
    timeout_s: float = 5.0
    max_requests_per_minute: int = 200
    vix_symbol: str = ""

    @staticmethod
    def from_env(mode: str, env: Mapping[str, str] | None = None) -> AlpacaSettings:
        """Read and check the settings of `mode`; live needs a second, explicit confirmation."""
        env = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}  # empty = unset
        if mode not in ("paper", "live"):
            raise SettingsError(f"mode must be paper or live for Alpaca, got {mode!r}")
        missing = [name for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY") if not env.get(name)]
        if missing:
            raise SettingsError(f"--mode {mode} needs {' and '.join(missing)} in the environment")
        if mode == "live" and env.get("LIVE_TRADING_CONFIRM") != LIVE_CONFIRMATION:
            raise SettingsError(
                f"--mode live trades real money: it also needs LIVE_TRADING_CONFIRM={LIVE_CONFIRMATION}"
            )
        default_trading = LIVE_TRADING_URL if mode == "live" else PAPER_TRADING_URL
        try:
            timeout_s = float(env.get("ALPACA_TIMEOUT_S", "5"))
            budget = int(env.get("ALPACA_MAX_REQUESTS_PER_MINUTE", str(ALPACA_REQUESTS_PER_MINUTE)))
        except ValueError as exc:
            raise SettingsError(f"ALPACA_TIMEOUT_S / ALPACA_MAX_REQUESTS_PER_MINUTE: {exc}") from None
        trading_url = env.get("ALPACA_TRADING_URL", default_trading).rstrip("/")
        host = check_trading_url(mode, trading_url)
        if not 0 < timeout_s <= 60:
            raise SettingsError(f"ALPACA_TIMEOUT_S must be in (0, 60], got {timeout_s}")
        ceiling = ALPACA_REQUESTS_PER_MINUTE if host in (PAPER_HOST, LIVE_HOST) else 100_000
        if not 1 <= budget <= ceiling:
            raise SettingsError(f"ALPACA_MAX_REQUESTS_PER_MINUTE must be in [1, {ceiling}] for {trading_url}")
        return AlpacaSettings(
            mode=mode,
            key_id=env["APCA_API_KEY_ID"],
            secret_key=env["APCA_API_SECRET_KEY"],
            trading_url=trading_url,
            data_url=env.get("ALPACA_DATA_URL", DATA_URL).rstrip("/"),
            stock_feed=env.get("ALPACA_STOCK_FEED", "iex"),
            options_feed=env.get("ALPACA_OPTIONS_FEED", "indicative"),
            timeout_s=timeout_s,
            max_requests_per_minute=budget,
            vix_symbol=env.get("ALPACA_VIX_SYMBOL", ""),
        )

    @property
    def trading_host(self) -> str:
        """The trading endpoint's host name (each run records it: only paper-api runs earn the gate's record)."""
        return url_host(self.trading_url)


def url_host(url: str) -> str:
    """The host of `url`, lower case, without port or brackets ('' when it has none)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: a fake or a test on this machine, never a broker."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_trading_url(mode: str, url: str) -> str:
    """The trading host of `url` when `mode` may trade on it, else a SettingsError naming it.

    Paper trades only on Alpaca's paper endpoint and live only on Alpaca's live endpoint (https
    both); a loopback address (a fake, a test) is allowed to either. Anything else, a live host
    under --mode paper above all, would trade real money or earn the go-live record where it
    should not: the worker refuses to start."""
    host = url_host(url)
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if is_loopback(host) and scheme in ("http", "https"):
        return host
    wanted = MODE_HOSTS[mode]
    if host == wanted and scheme == "https":
        return host
    why = {
        LIVE_HOST: "that is Alpaca's live endpoint: real money, which only --mode live behind the go-live gate trades",
        PAPER_HOST: "that is Alpaca's paper endpoint: a live worker must trade on the live one",
    }.get(host, "neither Alpaca's endpoint for this mode nor a loopback address (127.0.0.0/8, ::1, localhost)")
    if host == wanted:
        why = f"over {scheme or 'no scheme'}, not https"
    raise SettingsError(
        f"--mode {mode} trades only on https://{wanted} or a loopback fake; "
        f"ALPACA_TRADING_URL points at {host or repr(url)}: {why}"
    )


class RequestBudget:
    """A sliding one-minute window of request start times, shared by every client."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, max_wait_s: float) -> None:
        """Take one request slot, waiting at most `max_wait_s`; raise when none frees up in time."""
        deadline = time.monotonic() + max_wait_s
        while True:
            with self._lock:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= 60.0:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute:
                    self._starts.append(now)
                    return
                wait = 60.0 - (now - self._starts[0])
            if now + wait > deadline:
                raise BrokerUnavailableError(
                    f"request budget of {self.per_minute}/min is spent; not calling the broker"
                )
            time.sleep(min(wait, 0.05))

    def used_last_minute(self) -> int:
        with self._lock:
            now = time.monotonic()
            return sum(1 for t in self._starts if now - t < 60.0)


@dataclass
class CallStats:
    """What the guarded session saw: for logs, the health check and the tests."""

    calls: int = 0
    failures: int = 0
    longest_s: float = 0.0
    durations: list[float] = field(default_factory=list)
    timeouts: set[tuple[float, float]] = field(default_factory=set)  # (connect, read) of every call


class GuardedSession(requests.Session):
    """A requests session that never waits longer than its timeout and stays within the budget."""

    def __init__(self, timeout_s: float, budget: RequestBudget) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.budget = budget
        self.stats = CallStats()
        self._stats_lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["timeout"] = (min(self.timeout_s, 3.05), self.timeout_s)
        with self._stats_lock:
            self.stats.timeouts.add(kwargs["timeout"])
        started = time.monotonic()
        failed = False
        try:
            self.budget.acquire(self.timeout_s)
            response = super().request(method, url, *args, **kwargs)
            failed = response.status_code >= 500 or response.status_code == 429
            return response
        except requests.RequestException:
            failed = True
            raise
        finally:
            took = time.monotonic() - started
            with self._stats_lock:
                self.stats.calls += 1
                self.stats.failures += int(failed)
                self.stats.longest_s = max(self.stats.longest_s, took)
                self.stats.durations.append(took)
                if len(self.stats.durations) > 10_000:
                    del self.stats.durations[:5_000]
            log.debug("%s %s took %.3f s", method, _path_only(str(url)), took)


def _path_only(url: str) -> str:
    """The URL without its query (where a symbol list or a token could sit) for the logs."""
    return url.split("?", 1)[0]


@dataclass
class AlpacaClients:
    """The three alpaca-py clients the product uses, sharing one guarded session."""

    settings: AlpacaSettings
    trading: TradingClient
    stocks: StockHistoricalDataClient
    options: OptionHistoricalDataClient
    session: GuardedSession


def make_clients(settings: AlpacaSettings) -> AlpacaClients:
    """Build the clients against the configured endpoints, retries off, one timeout and budget."""
    session = GuardedSession(settings.timeout_s, RequestBudget(settings.max_requests_per_minute))
    trading = TradingClient(
        settings.key_id, settings.secret_key, paper=settings.mode == "paper", url_override=settings.trading_url
    )
    stocks = StockHistoricalDataClient(settings.key_id, settings.secret_key, url_override=settings.data_url)
    options = OptionHistoricalDataClient(settings.key_id, settings.secret_key, url_override=settings.data_url)
    for client in (trading, stocks, options):
        client._retry = 0  # alpaca-py would resend a POST after a 429/504; we look the order up instead
        client._session = session
    return AlpacaClients(settings, trading, stocks, options, session)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an alpaca-py APIError, if it carries one."""
    if isinstance(exc, APIError):
        try:
            return int(exc.status_code)
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def is_transient(exc: BaseException) -> bool:
    """Timeouts, resets, 429 and 5xx: the broker may or may not have acted."""
    if isinstance(exc, (requests.RequestException, BrokerUnavailableError)):
        return True
    status = status_of(exc)
    return status is not None and (status == 429 or status >= 500)
