"""Trade analysis as plain pandas: the figures and breakdowns the Trades page shows.

No Streamlit here, so every number on the page can be tested directly. The ratio figures reuse
`core.metrics`, the same math the backtest summary prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.metrics import summarize

MARKET_TZ = "America/New_York"
CONFIDENCE_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)


@dataclass(frozen=True)
class TradeFigures:
    trades: int
    win_rate: float
    profit_factor: float
    expectancy: float
    avg_win: float
    avg_loss: float
    total_pnl: float
    sharpe: float
    sortino: float
    max_drawdown: float  # dollars, from the peak of cumulative realized P&L (<= 0)
    avg_hold_min: float
    trades_per_day: float
    days: int = 0  # trading days behind the daily ratios (Sharpe, Sortino)


def with_derived(trades: pd.DataFrame) -> pd.DataFrame:
    """Adds the columns the breakdowns group by: New York day and hour, minutes held, a
    confidence bucket, win/loss."""
    out = trades.copy()
    entry = out["entry_time"].dt.tz_convert(MARKET_TZ)
    out["day"] = entry.dt.tz_localize(None).dt.floor("D")  # a New York date (vectorised; strftime is slow)
    out["hour"] = entry.dt.hour.map("{:02d}:00".format)  # a label: 09:00, 10:00 (ET)
    out["hold_min"] = (out["exit_time"] - out["entry_time"]).dt.total_seconds() / 60.0
    out["confidence_bucket"] = pd.cut(out["confidence"], CONFIDENCE_BINS, right=False)
    out["outcome"] = np.where(out["realized_pnl"] > 0, "win", "loss")
    if "structure" in out.columns:  # trades from before structures were recorded: their one leg's kind
        single = np.where(out["direction"] > 0, "long_call", "long_put")
        out["structure"] = out["structure"].fillna(pd.Series(single, index=out.index))
    return out


def daily_pnl(trades: pd.DataFrame) -> pd.Series:
    """Realized P&L per New York day of entry (days without a trade are absent)."""
    if trades.empty:
        return pd.Series(dtype=float)
    return trades.groupby("day")["realized_pnl"].sum()


def figures(trades: pd.DataFrame) -> TradeFigures:
    """The headline figures of a set of closed trades (with_derived applied). The ratios come from
    core.metrics.summarize, the backtest summary's own math; drawdown here is in dollars of
    cumulative realized P&L, since trades alone carry no equity."""
    pnl = trades["realized_pnl"].to_numpy(dtype=float)
    if pnl.size == 0:
        return TradeFigures(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    daily = daily_pnl(trades).to_numpy(dtype=float)
    base = summarize(pnl.tolist(), daily.tolist(), [], capital=1.0)  # Sharpe/Sortino are scale-free
    cumulative = np.cumsum(pnl)
    drawdown = cumulative - np.maximum.accumulate(np.maximum(cumulative, 0.0))
    return TradeFigures(
        trades=base.trades,
        win_rate=base.win_rate,
        profit_factor=base.profit_factor,
        expectancy=base.expectancy,
        avg_win=base.avg_win,
        avg_loss=base.avg_loss,
        total_pnl=base.total_pnl,
        sharpe=base.sharpe_daily,
        sortino=base.sortino_daily,
        max_drawdown=float(drawdown.min()),
        avg_hold_min=float(trades["hold_min"].mean()),
        trades_per_day=float(pnl.size / max(len(daily), 1)),
        days=len(daily),
    )


def by(trades: pd.DataFrame, column: str) -> pd.DataFrame:
    """P&L, trade count and win rate per value of `column`."""
    if trades.empty:
        return pd.DataFrame({column: [], "pnl": [], "trades": [], "win_rate": []})
    grouped = trades.groupby(column, observed=True)["realized_pnl"]
    out = pd.DataFrame({"pnl": grouped.sum(), "trades": grouped.size(), "win_rate": grouped.apply(_win_rate)})
    return out.reset_index()


PERIODS = {"day": "D", "week": "W-FRI", "month": "M"}


def by_period(trades: pd.DataFrame, period: str) -> pd.DataFrame:
    """P&L, trades and win rate per New York day, week (ending Friday) or month of entry."""
    if trades.empty:
        return pd.DataFrame({period: [], "pnl": [], "trades": [], "win_rate": []})
    stamps = trades["day"].dt.to_period(PERIODS[period])
    if period == "week":
        labels = stamps.dt.end_time.dt.strftime("week to %Y-%m-%d")
    else:
        labels = stamps.dt.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")
    return by(trades.assign(**{period: labels}), period)


def _win_rate(pnl: pd.Series) -> float:
    return float((pnl > 0).mean()) if len(pnl) else 0.0


def cumulative(trades: pd.DataFrame, max_points: int = 5_000) -> pd.DataFrame:
    """Cumulative P&L and its drawdown at each trade's exit, in exit order (P&L is realized when
    a trade closes: summed in entry order and drawn at the exits, the line ran back in time where
    trades overlapped), or per day's last exit when there are more than `max_points` trades."""
    if trades.empty:
        return pd.DataFrame({"time": [], "cum_pnl": [], "drawdown": []})
    ordered = trades.sort_values(["exit_time", "id"] if "id" in trades.columns else ["exit_time"], kind="stable")
    exit_day = ordered["exit_time"].dt.tz_convert(MARKET_TZ).dt.tz_localize(None).dt.floor("D")
    out = pd.DataFrame({"time": ordered["exit_time"].to_numpy(), "day": exit_day.to_numpy()})
    out["cum_pnl"] = ordered["realized_pnl"].cumsum().to_numpy()
    out["drawdown"] = out["cum_pnl"] - np.maximum(out["cum_pnl"].cummax(), 0.0)
    if len(out) > max_points:
        out = out.groupby("day").agg(time=("time", "last"), cum_pnl=("cum_pnl", "last"), drawdown=("drawdown", "min"))
    return out.reset_index(drop=True)[["time", "cum_pnl", "drawdown"]]


def histogram(values: pd.Series, bins: int = 40) -> pd.DataFrame:
    """Bin centres, widths and counts (binned here so the browser receives 40 bars, not 100,000 values)."""
    data = values.to_numpy(dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return pd.DataFrame({"centre": [], "width": [], "count": []})
    counts, edges = np.histogram(data, bins=bins)
    return pd.DataFrame({"centre": (edges[:-1] + edges[1:]) / 2, "width": np.diff(edges), "count": counts})


def sample(trades: pd.DataFrame, limit: int = 3_000, seed: int = 0) -> pd.DataFrame:
    """At most `limit` trades for scatter plots; a fixed seed keeps the picture stable between reruns."""
    if len(trades) <= limit:
        return trades
    return trades.sample(n=limit, random_state=seed).sort_index()


def format_figure(value: float, kind: str) -> str:
    """Figures as the page prints them."""
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "ratio":
        return "inf" if math.isinf(value) else f"{value:.2f}"
    return f"{value:,.1f}"
