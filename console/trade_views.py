"""The Trades page's sections that need more than a chart call: the headline figures in a compact
grid with their sample sizes, P&L by day, week or month, and the underlying's price through a
day with each trade's entry and exit on it (a click opens that trade's trail)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import analysis, charts, data
from console.layout import compact_grid
from db.decision_reads import DecisionFilter

MIN_DAYS_FOR_RATIOS = 20  # daily Sharpe/Sortino from fewer days are noise
MIN_TRADES_FOR_RATES = 30  # win rate and profit factor from fewer trades swing by tens of points


def headline(trades: pd.DataFrame) -> None:
    f = analysis.figures(trades)
    ratio_note = f"from {f.days} days" if f.days else "no days"
    shown = [
        ("Trades", f"{f.trades:,}"),
        ("Win rate", analysis.format_figure(f.win_rate, "pct")),
        ("Profit factor", analysis.format_figure(f.profit_factor, "ratio")),
        ("Expectancy", analysis.format_figure(f.expectancy, "money")),
        ("Total P&L", analysis.format_figure(f.total_pnl, "money")),
        ("Max drawdown", analysis.format_figure(f.max_drawdown, "money")),
        ("Avg win", analysis.format_figure(f.avg_win, "money")),
        ("Avg loss", analysis.format_figure(f.avg_loss, "money")),
        (f"Sharpe (daily, {ratio_note})", _ratio(f.sharpe, f.days)),
        (f"Sortino (daily, {ratio_note})", _ratio(f.sortino, f.days)),
        ("Avg hold (min)", analysis.format_figure(f.avg_hold_min, "num")),
        ("Trades per day", analysis.format_figure(f.trades_per_day, "num")),
    ]
    with compact_grid("trade_headline"):
        for row in range(0, len(shown), 4):
            for col, (label, value) in zip(st.columns(4), shown[row : row + 4], strict=False):
                col.metric(label, value)
    warnings = []
    if f.trades < MIN_TRADES_FOR_RATES:
        warnings.append(f"{f.trades} trades: win rate and profit factor need {MIN_TRADES_FOR_RATES}+ to mean much")
    if f.days < MIN_DAYS_FOR_RATIOS:
        warnings.append(f"{f.days} trading days: Sharpe and Sortino need {MIN_DAYS_FOR_RATIOS}+ days")
    if warnings:
        st.warning("Small sample. " + "; ".join(warnings) + ".", icon=":material/info:")


def _ratio(value: float, days: int) -> str:
    """A daily ratio needs a spread of days: from fewer than MIN_DAYS_FOR_RATIOS it is noise, shown
    as "n/a" (a Sharpe of -37 from three days says nothing)."""
    return "n/a" if days < MIN_DAYS_FOR_RATIOS else analysis.format_figure(value, "ratio")


def period_chart(trades: pd.DataFrame) -> None:
    period = st.segmented_control("P&L by", ["day", "week", "month"], default="day", key="pnl_period") or "day"
    grouped = analysis.by_period(trades, period)
    st.plotly_chart(charts.pnl_bars(grouped, period, f"P&L by {period} of entry (ET)"), width="stretch")


def price_section(url: str, trades: pd.DataFrame) -> int | None:
    """The chosen day's price of one underlying with the trades on it; returns a clicked trade id."""
    st.subheader("Price and trades")
    days = sorted(trades["day"].dt.date.unique())
    symbols = sorted(trades["underlying"].unique())
    left, right = st.columns(2)
    day = left.selectbox("Day (ET)", days, index=len(days) - 1, key="price_day")
    symbol = right.selectbox("Underlying", symbols, key="price_symbol")
    series = data.decision_series(url, DecisionFilter(start=day, end=day, symbols=(symbol,)))
    on_day = trades[(trades["day"].dt.date == day) & (trades["underlying"] == symbol)]
    fig = charts.price_with_trades(series, on_day, f"{symbol} on {day}: {len(on_day)} trades (click one)")
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key="price_chart")
    points = event.selection.points if event is not None else []
    for point in points:
        trade_id = point.get("customdata")
        if trade_id is not None:
            return int(trade_id[0] if isinstance(trade_id, list) else trade_id)
    return None
