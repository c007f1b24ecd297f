"""The reference for the backtest benchmark: backtrader running the baseline's simple rule
(EMA 9/21 trend + RSI 14 momentum, flat by the close) on the same minute bars."""

from __future__ import annotations

import time

import backtrader as bt
import pandas as pd

from core.calendar import Session
from core.market.synthetic import SyntheticWorld


class TrendRsiRule(bt.Strategy):
    """Long on an up-trend with RSI above 60, short on the mirror image, out when it fades."""

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


def run_backtrader(data: dict[str, pd.DataFrame]) -> tuple[int, float]:
    """Bars processed and seconds taken by backtrader on the same bars."""
    cerebro = bt.Cerebro(stdstats=False)
    for symbol, frame in data.items():
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, timeframe=bt.TimeFrame.Minutes), name=symbol)
    cerebro.addstrategy(TrendRsiRule)
    cerebro.broker.setcash(100_000.0)
    started = time.perf_counter()
    cerebro.run()
    return sum(len(f) for f in data.values()), time.perf_counter() - started
