"""The MarketData protocol on Alpaca's data API, with yfinance as the fallback.

- Session times from TradingClient.get_calendar (alpaca-py returns them naive: they are New
  York wall-clock times and are localised here), falling back to the exchange calendar.
- 1-minute bars of both symbols in one StockHistoricalDataClient request per minute, fetched
  incrementally; when it fails, yfinance serves the session's bars and the view is degraded.
- VIX from Alpaca only when ALPACA_VIX_SYMBOL names a symbol it serves; otherwise yfinance is
  the source (as it is for every Alpaca plan today). No VIX at all blocks entries (data_vix).
- The 0DTE chain: tradable contracts from TradingClient.get_option_contracts (once a day) and
  quotes, IV and greeks from OptionHistoricalDataClient.get_option_chain (once a minute);
  a contract without greeks gets a Black-Scholes delta from its IV, or from the same-day vol of
  worker/adapters/live_day_vol.py (the feed's at-the-money IV, else yfinance's VIX1D model).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from alpaca.data.requests import OptionChainRequest, OptionLatestQuoteRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.requests import GetCalendarRequest, GetOptionContractsRequest

from core.calendar import NY, Session, session_for
from core.market.bars import SessionBars
from core.options.chain import ChainSnapshot
from core.options.pricing import bs_price_delta_vec
from core.protocols import BarView
from core.types import OptionContract, PriceSource, Quote, Right
from worker.adapters.alpaca_http import AlpacaClients
from worker.adapters.live_day_vol import LiveDayVol
from worker.adapters.yahoo import YahooSource, YahooUnavailableError

MAX_CONTRACT_PAGES = 20
log = logging.getLogger("worker.alpaca")
Row = tuple[float, float, float, float, float, float]  # start epoch s, open, high, low, close, volume


@dataclass
class _SymbolBars:
    """Today's bars of one symbol as rows, their array form, and where they came from."""

    rows: list[Row] = field(default_factory=list)
    bars: SessionBars | None = None
    source: str = "alpaca"
    degraded: bool = False


class AlpacaMarketData:
    """Bars, VIX, the chain and quotes from Alpaca; yfinance when Alpaca fails."""

    def __init__(
        self, clients: AlpacaClients, symbols: tuple[str, ...] = ("SPY", "QQQ"), yahoo: YahooSource | None = None
    ) -> None:
        self.clients = clients
        self.settings = clients.settings
        self.symbols = symbols
        self.yahoo = yahoo or YahooSource()
        self.day_vol = LiveDayVol(self.yahoo)
        self._sessions: dict[date, Session | None] = {}
        self._day: date | None = None
        self._bars: dict[str, _SymbolBars] = {}
        self._bars_minute: datetime | None = None
        self._vix: tuple[datetime | None, float, bool] = (None, math.nan, False)
        self._vix_hist: dict[date, np.ndarray] = {}
        self._contracts: dict[tuple[str, date], set[str]] = {}
        self._chains: dict[tuple[str, datetime], ChainSnapshot | None] = {}
        self._quotes: dict[tuple[str, datetime], Quote | None] = {}

    # ---- calendar -----------------------------------------------------------------------
    def session(self, now: datetime) -> Session | None:
        day = now.astimezone(NY).date()
        if day not in self._sessions:
            self._sessions[day] = self._alpaca_session(day)
        s = self._sessions[day]
        return s if s is not None and s.open <= now <= s.close else None

    def _alpaca_session(self, day: date) -> Session | None:
        try:
            found = self.clients.trading.get_calendar(GetCalendarRequest(start=day, end=day))
        except Exception as exc:
            log.warning("Alpaca calendar failed (%s); using the exchange calendar", exc)
            return session_for(day)
        for c in found:
            if c.date == day:  # alpaca-py parses "09:30" into a naive datetime: New York wall time
                return Session(day, c.open.replace(tzinfo=NY), c.close.replace(tzinfo=NY))
        return None

    # ---- bars ---------------------------------------------------------------------------
    def bars(self, symbol: str, now: datetime) -> BarView:
        session = self.session(now)
        if session is None:
            raise LookupError(f"no session open at {now.isoformat()}")
        if self._day != session.day:
            self._day, self._bars, self._chains, self._quotes = session.day, {}, {}, {}
        if self._bars_minute != now:
            self._bars_minute = now
            self._chains.clear()
            self._quotes.clear()
            self._refresh_bars(session, now)
        sb = self._bars.setdefault(symbol, _SymbolBars())
        if sb.bars is None:
            sb.bars = _to_session_bars(symbol, session, sb.rows)
        count = sb.bars.completed_count(now)
        vix_degraded = self._vix[2]
        return BarView(sb.bars, count, sb.source, sb.degraded or vix_degraded)

    def _refresh_bars(self, session: Session, now: datetime) -> None:
        known = [self._bars.setdefault(s, _SymbolBars()) for s in self.symbols]
        last = min((sb.rows[-1][0] for sb in known if sb.rows and sb.source == "alpaca"), default=None)
        start = session.open if last is None else datetime.fromtimestamp(last + 60.0, NY)
        end = now - timedelta(seconds=1)
        if start > end:
            return
        try:
            by_symbol = self._stock_bars(list(self.symbols), TimeFrame.Minute, start, end)
        except Exception as exc:
            log.warning("Alpaca bars failed (%s); trying yfinance", exc)
            for symbol, sb in zip(self.symbols, known, strict=True):
                self._from_yahoo(symbol, sb, session, now)
            return
        for symbol, sb in zip(self.symbols, known, strict=True):
            fresh = by_symbol.get(symbol, [])
            if sb.source != "alpaca":  # back from a fallback: start again from Alpaca's own bars
                sb.rows, sb.source, sb.degraded = [], "alpaca", False
                if fresh and fresh[0][0] > session.open.timestamp():
                    self._from_alpaca_full(symbol, sb, session, end)
                    continue
            seen = sb.rows[-1][0] if sb.rows else -math.inf
            sb.rows.extend(r for r in fresh if r[0] > seen)
            sb.bars, sb.degraded = None, False

    def _from_alpaca_full(self, symbol: str, sb: _SymbolBars, session: Session, end: datetime) -> None:
        sb.rows = self._stock_bars([symbol], TimeFrame.Minute, session.open, end).get(symbol, [])
        sb.bars = None

    def _stock_bars(
        self, symbols: list[str], timeframe: TimeFrame, start: datetime, end: datetime
    ) -> dict[str, list[Row]]:
        """One StockHistoricalDataClient request, as rows per symbol."""
        got = self.clients.stocks.get_stock_bars(
            StockBarsRequest(
                symbol_or_symbols=symbols, timeframe=timeframe, start=start, end=end, feed=self.settings.stock_feed
            )
        )
        return {
            symbol: [(b.timestamp.timestamp(), b.open, b.high, b.low, b.close, b.volume) for b in bars]
            for symbol, bars in got.data.items()
        }

    def _from_yahoo(self, symbol: str, sb: _SymbolBars, session: Session, now: datetime) -> None:
        try:
            sb.rows = self.yahoo.minute_bars(symbol, session, now)
            sb.source, sb.degraded = "yfinance", True
        except YahooUnavailableError as exc:
            log.warning("yfinance bars failed too (%s); the bars go stale", exc)
            sb.degraded = True  # keep the last rows: the staleness check blocks entries
        sb.bars = None

    def spot(self, symbol: str, now: datetime) -> float:
        view = self.bars(symbol, now)
        return view.last_close

    # ---- VIX ----------------------------------------------------------------------------
    def vix(self, now: datetime) -> float:
        if self._vix[0] == now:
            return self._vix[1]
        value, degraded = math.nan, False
        if self.settings.vix_symbol:
            value = self._alpaca_vix(now)
            degraded = not math.isfinite(value)
        if not math.isfinite(value):
            try:
                value = self.yahoo.vix_latest(now)
            except YahooUnavailableError as exc:
                log.warning("no VIX (%s)", exc)
        self._vix = (now, value, degraded)
        return value

    def _alpaca_vix(self, now: datetime) -> float:
        symbol = self.settings.vix_symbol
        try:
            rows = self._stock_bars([symbol], TimeFrame.Minute, now - timedelta(minutes=30), now).get(symbol, [])
            return float(rows[-1][4]) if rows else math.nan
        except Exception as exc:
            log.warning("Alpaca VIX failed (%s)", exc)
            return math.nan

    def vix_history(self, day: date) -> np.ndarray:
        if day not in self._vix_hist:
            self._vix_hist[day] = self._load_vix_history(day)
        return self._vix_hist[day]

    def _load_vix_history(self, day: date) -> np.ndarray:
        symbol = self.settings.vix_symbol
        if symbol:
            midnight = datetime(day.year, day.month, day.day, tzinfo=NY)
            try:
                got = self._stock_bars([symbol], TimeFrame.Day, midnight - timedelta(days=400), midnight)
                closes = [r[4] for r in got.get(symbol, []) if datetime.fromtimestamp(r[0], NY).date() < day]
                if closes:
                    return np.array(closes[-252:], dtype=np.float64)
            except Exception as exc:
                log.warning("Alpaca VIX history failed (%s); trying yfinance", exc)
        try:
            return self.yahoo.vix_closes_before(day)
        except YahooUnavailableError as exc:
            log.warning("no VIX history (%s): the IV rank is unknown", exc)
            return np.empty(0)

    # ---- options ------------------------------------------------------------------------
    def _tradable(self, underlying: str, day: date, spot: float) -> set[str]:
        key = (underlying, day)
        if key not in self._contracts:
            symbols: set[str] = set()
            token: str | None = None
            for _ in range(MAX_CONTRACT_PAGES):  # alpaca-py does not follow next_page_token itself
                found = self.clients.trading.get_option_contracts(
                    GetOptionContractsRequest(
                        underlying_symbols=[underlying],
                        expiration_date=day,
                        strike_price_gte=str(math.floor(spot * 0.9)),
                        strike_price_lte=str(math.ceil(spot * 1.1)),
                        limit=10000,
                        page_token=token,
                    )
                )
                symbols |= {c.symbol for c in (found.option_contracts or []) if c.tradable}
                token = found.next_page_token
                if not token:
                    break
            self._contracts[key] = symbols
        return self._contracts[key]

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12) -> ChainSnapshot | None:
        key = (underlying, now)
        if key not in self._chains:
            try:
                self._chains[key] = self._load_chain(underlying, now, strikes_each_side)
            except Exception as exc:
                log.warning("option chain for %s failed (%s)", underlying, exc)
                self._chains[key] = None
        return self._chains[key]

    def _load_chain(self, underlying: str, now: datetime, strikes_each_side: int) -> ChainSnapshot | None:
        session = self.session(now)
        spot = self.spot(underlying, now)
        if session is None or not math.isfinite(spot):
            return None
        tradable = self._tradable(underlying, session.day, spot)
        snaps = self.clients.options.get_option_chain(
            OptionChainRequest(
                underlying_symbol=underlying,
                expiration_date=session.day,
                strike_price_gte=float(math.floor(spot) - strikes_each_side),
                strike_price_lte=float(math.ceil(spot) + strikes_each_side),
                feed=self.settings.options_feed,
            )
        )
        rows = []
        for symbol, snap in snaps.items():
            q = snap.latest_quote
            if symbol not in tradable or q is None or not q.ask_price:
                continue
            c = OptionContract.from_symbol(symbol)
            delta = snap.greeks.delta if snap.greeks is not None else math.nan
            iv = snap.implied_volatility if snap.implied_volatility is not None else math.nan
            stamp = q.timestamp.timestamp() if q.timestamp is not None else math.nan  # the quote's own time
            size = (int(q.bid_size or 0), int(q.ask_size or 0))
            rows.append(
                (c.strike, c.right is Right.CALL, float(q.bid_price), float(q.ask_price), iv, delta, stamp, *size)
            )
        if not rows:
            return None
        rows.sort(key=lambda r: (not r[1], r[0]))
        strikes, is_call, bid, ask, iv, delta, stamps, bid_size, ask_size = (
            np.array(col) for col in zip(*rows, strict=True)
        )
        missing = ~np.isfinite(delta)
        if missing.any():  # no greeks: a Black-Scholes delta from the contract's IV, else the day's vol
            fallback = self.day_vol.fallback(session.day, self.vix(now), spot, strikes, iv)
            if not np.isfinite(iv[missing]).all():
                log.info("%s: contracts without an IV priced at %.3f (%s)", underlying, fallback.vol, fallback.source)
            vol = np.where(np.isfinite(iv), iv, fallback.vol)
            minutes_left = max((session.close - now).total_seconds() / 60.0, 1.0)
            _, bs_delta = bs_price_delta_vec(spot, strikes, minutes_left, vol, is_call.astype(bool))
            delta = np.where(missing, bs_delta, delta)
        snapshot = ChainSnapshot(
            underlying,
            session.day,
            now,
            spot,
            strikes.astype(float),
            is_call.astype(bool),
            bid.astype(float),
            ask.astype(float),
            iv.astype(float),
            delta.astype(float),
            quote_times=stamps.astype(float),
            bid_size=bid_size.astype(int),
            ask_size=ask_size.astype(int),
            source=PriceSource.LIVE_QUOTE,
        )
        for i in range(len(strikes)):
            quote = snapshot.quote(i)
            self._quotes[(quote.contract.symbol, now)] = quote
        return snapshot

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        key = (contract.symbol, now)
        if key not in self._quotes:
            self._quotes[key] = self._latest_quote(contract, now)
        return self._quotes[key]

    def _latest_quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        try:
            got = self.clients.options.get_option_latest_quote(
                OptionLatestQuoteRequest(symbol_or_symbols=[contract.symbol], feed=self.settings.options_feed)
            )
        except Exception as exc:
            log.warning("quote for %s failed (%s)", contract.symbol, exc)
            return None
        q = got.get(contract.symbol)
        if q is None or not q.ask_price:
            return None
        return Quote(
            contract,
            float(q.bid_price),
            float(q.ask_price),
            q.timestamp.astimezone(NY),
            bid_size=int(q.bid_size or 0),
            ask_size=int(q.ask_size or 0),
            price_source=PriceSource.LIVE_QUOTE,
        )


def _to_session_bars(symbol: str, session: Session, rows: list[Row]) -> SessionBars:
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(6)]
    start, o, h, lo, c, v = (np.asarray(col, dtype=np.float64) for col in cols)
    return SessionBars.checked(symbol, session, start, o, h, lo, c, v)  # Alpaca's and yfinance's bars alike
