"""The reference for the backtest benchmark: backtrader running the product's baseline rule on
the same minute bars.

The product's rule (core/policy/rules.py) scores trend (EMA 9/21), distance to the session VWAP
and RSI 14, each in ATRs, enters only between 10:00 and 15:00, closes when momentum fades
against the position, after 120 minutes, or at 15:40. `TrendVwapRsiRule` is that rule in
backtrader's idiom, trading the underlying. `TrendRsiRule` is the bare EMA/RSI rule this
benchmark used first; its figure is printed beside it so the change of reference is visible.
"""

from __future__ import annotations

import time
from datetime import time as clock_time

import backtrader as bt
import pandas as pd

from core.calendar import Session
from core.market.synthetic import SyntheticWorld
from core.policy.rules import HOLD_SCORE

ENTRY_FROM, ENTRY_UNTIL, FLAT_AT = clock_time(10, 0), clock_time(15, 0), clock_time(15, 40)
MAX_HOLD_BARS = 120
FADE_LIMIT = -(HOLD_SCORE - 0.8) / 1.5  # the rule's fade score beats hold below this momentum


class SessionVwap(bt.Indicator):
    """Volume-weighted average close since the session's first bar."""

    lines = ("vwap",)

    def __init__(self) -> None:
        self._day: object = None
        self._pv = 0.0
        self._volume = 0.0

    def next(self) -> None:
        day = self.data.datetime.date(0)
        if day != self._day:
            self._day, self._pv, self._volume = day, 0.0, 0.0
        close, volume = self.data.close[0], self.data.volume[0]
        self._pv += close * volume
        self._volume += volume
        self.lines.vwap[0] = self._pv / self._volume if self._volume > 0 else close


class _CountingStrategy(bt.Strategy):
    """Counts completed orders, so the run shows the rule traded."""

    filled = 0

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.filled += 1


class TrendVwapRsiRule(_CountingStrategy):
    """The baseline's score, entry window and exits on the underlying."""

    def __init__(self) -> None:
        self.signals = {}
        self.entered: dict[object, int] = {}
        for data in self.datas:
            fast = bt.indicators.EMA(data.close, period=9)
            slow = bt.indicators.EMA(data.close, period=21)
            rsi = bt.indicators.RSI(data.close, period=14, safediv=True)
            atr = bt.indicators.ATR(data, period=14)
            self.signals[data] = (fast, slow, rsi, atr, SessionVwap(data))

    def next(self) -> None:
        for data, (fast, slow, rsi, atr, vwap) in self.signals.items():
            close = data.close[0]
            atr_pct = max(atr[0] / close * 100.0, 1e-4)
            trend = (fast[0] - slow[0]) / close * 100.0 / atr_pct
            to_vwap = (close - vwap[0]) / vwap[0] * 100.0 / atr_pct
            up = 0.9 * trend + 0.5 * to_vwap + 0.5 * (rsi[0] - 50.0) / 10.0
            now = data.datetime.time(0)
            position = self.getposition(data).size
            if position:
                direction = 1 if position > 0 else -1
                held = len(data) - self.entered[data]
                if now >= FLAT_AT or held >= MAX_HOLD_BARS or up * direction < FADE_LIMIT:
                    self.close(data=data)
            elif ENTRY_FROM <= now < ENTRY_UNTIL:
                if up - 1.0 > HOLD_SCORE:
                    self.buy(data=data, size=10)
                    self.entered[data] = len(data)
                elif -up - 1.0 > HOLD_SCORE:
                    self.sell(data=data, size=10)
                    self.entered[data] = len(data)


class TrendRsiRule(_CountingStrategy):
    """The first reference: long on an up-trend with RSI above 60, short on the mirror image."""

    def __init__(self) -> None:
        self.signals = {}
        for data in self.datas:
            fast = bt.indicators.EMA(data.close, period=9)
            slow = bt.indicators.EMA(data.close, period=21)
            rsi = bt.indicators.RSI(data.close, period=14, safediv=True)
            self.signals[data] = (fast, slow, rsi)

    def next(self) -> None:
        for data, (fast, slow, rsi) in self.signals.items():
            position = self.getposition(data).size
            if not position:
                if fast[0] > slow[0] and rsi[0] > 60:
                    self.buy(data=data, size=10)
                elif fast[0] < slow[0] and rsi[0] < 40:
                    self.sell(data=data, size=10)
            elif (position > 0 and fast[0] < slow[0]) or (position < 0 and fast[0] > slow[0]):
                self.close(data=data)


def frames(world: SyntheticWorld, sessions: list[Session]) -> dict[str, pd.DataFrame]:
    out = {}
    for symbol in world.symbols:
        parts = []
        for s in sessions:
            b = world.session_bars(s, symbol)
            idx = pd.to_datetime(b.start, unit="s", utc=True).tz_convert("America/New_York").tz_localize(None)
            parts.append(
                pd.DataFrame(
                    {"open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume}, index=idx
                )
            )
        out[symbol] = pd.concat(parts)
    return out


def run_backtrader(data: dict[str, pd.DataFrame], rule: type[bt.Strategy] = TrendVwapRsiRule) -> tuple[int, float, int]:
    """Bars processed, seconds taken and orders filled by backtrader on the same bars."""
    cerebro = bt.Cerebro(stdstats=False)
    for symbol, frame in data.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes), name=symbol)
    cerebro.addstrategy(rule)
    cerebro.broker.setcash(100_000.0)
    started = time.perf_counter()
    strategy = cerebro.run()[0]
    seconds = time.perf_counter() - started
    return sum(len(f) for f in data.values()), seconds, strategy.filled
