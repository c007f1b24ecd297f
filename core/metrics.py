"""Performance figures from closed trades and an equity curve: the same math for the backtest
summary and the console."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    trades: int
    win_rate: float
    profit_factor: float
    expectancy: float
    avg_win: float
    avg_loss: float
    total_pnl: float
    sharpe_daily: float
    sortino_daily: float
    max_drawdown_pct: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def profit_factor(pnls: Sequence[float]) -> float:
    gains = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    if losses == 0:
        return math.inf if gains > 0 else 0.0
    return gains / losses


def sharpe(daily_pnl: Sequence[float], capital: float) -> float:
    """Annualised Sharpe of daily returns on `capital` (0 when undefined)."""
    r = np.asarray(daily_pnl, dtype=float) / capital
    if r.size < 2 or r.std(ddof=1) == 0:
        return 0.0
    return float(r.mean() / r.std(ddof=1) * math.sqrt(252))


def sortino(daily_pnl: Sequence[float], capital: float) -> float:
    r = np.asarray(daily_pnl, dtype=float) / capital
    downside = r[r < 0]
    if r.size < 2 or downside.size < 2 or downside.std(ddof=1) == 0:
        return 0.0
    return float(r.mean() / np.sqrt((downside**2).mean()) * math.sqrt(252))


def max_drawdown_pct(equity: Sequence[float]) -> float:
    """Largest fall from a running peak, in % (a negative number, 0 with no fall)."""
    e = np.asarray(equity, dtype=float)
    if e.size == 0:
        return 0.0
    peak = np.maximum.accumulate(e)
    return float(((e / peak) - 1.0).min() * 100.0)


def summarize(
    trade_pnls: Sequence[float], daily_pnl: Sequence[float], equity: Sequence[float], capital: float
) -> Summary:
    pnls = list(trade_pnls)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p <= 0]
    return Summary(
        trades=len(pnls),
        win_rate=len(wins) / len(pnls) if pnls else 0.0,
        profit_factor=profit_factor(pnls),
        expectancy=sum(pnls) / len(pnls) if pnls else 0.0,
        avg_win=sum(wins) / len(wins) if wins else 0.0,
        avg_loss=sum(losses) / len(losses) if losses else 0.0,
        total_pnl=sum(pnls),
        sharpe_daily=sharpe(daily_pnl, capital),
        sortino_daily=sortino(daily_pnl, capital),
        max_drawdown_pct=max_drawdown_pct(equity),
    )


def interval_cell(row: dict, key: str, fmt: str, scale: float = 1.0) -> str:
    """One table cell: `row[key]` with its `_lo`/`_hi` interval where the row has one ("-" where
    the figure is missing), so every results table formats an interval the same way."""
    value, low, high = row.get(key), row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if value is None:
        return "-"
    text = format(value * scale, fmt)
    return text if low is None or high is None else f"{text} [{format(low * scale, fmt)}, {format(high * scale, fmt)}]"
