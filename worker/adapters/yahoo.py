"""yfinance as the fallback data source: 1-minute bars of today's session, VIX and VIX1D opens.

yfinance answers with pandas frames indexed by a tz-aware DatetimeIndex (New York time) with
columns Open, High, Low, Close, Volume (and Dividends, Stock Splits). An empty frame or a
missing column is a failure here, never a silent zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd

from core.calendar import NY, Session

log = logging.getLogger("worker.adapters.yahoo")
VIX_TICKER = "^VIX"
History = Callable[..., pd.DataFrame]


class YahooUnavailableError(RuntimeError):
    """yfinance gave no usable data."""


def _default_history(ticker: str, **kwargs: object) -> pd.DataFrame:
    import yfinance as yf

    return yf.Ticker(ticker).history(**kwargs)


class YahooSource:
    """Bars and VIX from yfinance; `history(ticker, **kwargs)` is yfinance's Ticker.history."""

    name = "yfinance"

    def __init__(self, history: History | None = None) -> None:
        self._history = history or _default_history

    def _frame(self, ticker: str, **kwargs: object) -> pd.DataFrame:
        try:
            frame = self._history(ticker, **kwargs)
        except Exception as exc:  # yfinance raises many kinds; all mean "no data from Yahoo"
            raise YahooUnavailableError(f"yfinance {ticker}: {type(exc).__name__}: {exc}") from exc
        needed = {"Open", "High", "Low", "Close", "Volume"}
        if frame is None or frame.empty or not needed <= set(frame.columns):
            raise YahooUnavailableError(f"yfinance {ticker}: no rows")
        index = frame.index
        if not isinstance(index, pd.DatetimeIndex):
            raise YahooUnavailableError(f"yfinance {ticker}: index is not a DatetimeIndex")
        if index.tz is None:
            frame = frame.tz_localize(NY)
        return frame

    def minute_bars(
        self, symbol: str, session: Session, now: datetime
    ) -> list[tuple[float, float, float, float, float, float]]:
        """Completed regular-hours bars of `session` up to `now`: (start epoch s, o, h, l, c, v)."""
        frame = self._frame(symbol, period="1d", interval="1m", prepost=False, auto_adjust=False)
        starts = frame.index.tz_convert(NY)
        keep = (starts >= session.open) & (starts < session.close) & (starts + pd.Timedelta(minutes=1) <= now)
        part = frame[keep]
        epoch = (part.index.tz_convert("UTC").asi8 // 10**9).astype(np.float64)
        return list(
            zip(
                epoch.tolist(),
                part["Open"].astype(float).tolist(),
                part["High"].astype(float).tolist(),
                part["Low"].astype(float).tolist(),
                part["Close"].astype(float).tolist(),
                part["Volume"].astype(float).tolist(),
                strict=True,
            )
        )

    def vix_latest(self, now: datetime) -> float:
        """The latest 1-minute VIX close at or before `now`."""
        frame = self._frame(VIX_TICKER, period="1d", interval="1m", prepost=False)
        closes = frame["Close"][frame.index <= now].dropna()
        if closes.empty:
            raise YahooUnavailableError("yfinance ^VIX: no minute bar yet today")
        return float(closes.iloc[-1])

    def daily_open(self, ticker: str, day: date) -> float:
        """`ticker`'s open on `day` from its daily bars (NaN when `day` has no bar yet)."""
        frame = self._frame(ticker, period="5d", interval="1d")
        opens = frame["Open"][frame.index.tz_convert(NY).date == day].dropna()
        return float(opens.iloc[-1]) if not opens.empty and float(opens.iloc[-1]) > 0.0 else float("nan")

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        """Daily VIX closes of the sessions before `day`, oldest first."""
        frame = self._frame(VIX_TICKER, period="2y", interval="1d")
        dates = frame.index.tz_convert(NY).date
        closes = frame["Close"][dates < day].dropna()
        return closes.to_numpy(dtype=np.float64)[-count:]
