"""Trades: what made and lost money, sliced by reason, regime, hour, confidence and symbol;
one trade's whole trail; CSV export of exactly what the filters show."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import analysis, charts, data, trade_views
from console.formatting import in_new_york, plain
from console.layout import PhoneColumns, phone_table
from console.login import checked_download, require_gate
from console.position_controls import cancel_button, close_button
from db import trade_reads
from db.engine import database_url
from db.order_store import OPEN_ORDER_STATES
from db.trade_reads import TradeFilter

TABLE_ROWS = 1_000
# What matters at a glance, within a phone's width: P&L with the exit's reason beside it, when
# (month-day and time) and which symbol; the rest one toggle away.
NARROW_COLUMNS = PhoneColumns(
    (("realized_pnl", 70), ("exit_reason_code", 118), ("exit_time (ET)", 86), ("underlying", 46)), selectable=True
)
BREAKDOWNS = (
    ("entry_reason_code", "P&L by entry reason"),
    ("exit_reason_code", "P&L by exit reason"),
    ("regime", "P&L by regime"),
    ("hour", "P&L by hour of entry (ET)"),
    ("confidence_bucket", "P&L by confidence"),
    ("underlying", "P&L by symbol"),
    ("structure", "P&L by structure"),
)
FILTER_LABELS = {
    "underlying": "Symbol",
    "entry_reason_code": "Entry reason",
    "exit_reason_code": "Exit reason",
    "regime": "Regime",
    "model_version": "Model version",
    "param_version": "Parameter version",
    "price_source": "Entry priced from",
    "structure": "Structure",
}


def filters(url: str) -> TradeFilter:
    span = data.trade_date_range(url)
    options = data.trade_filter_options(url)
    with st.expander("Filters", expanded=False):
        start = end = None
        if span is not None:
            chosen = st.date_input("Entry date range", value=span, min_value=span[0], max_value=span[1], key="dates")
            if isinstance(chosen, tuple) and len(chosen) == 2:
                start, end = chosen
        cols = st.columns(3)
        picked = {
            name: tuple(cols[i % 3].multiselect(label, options[name], key=f"f_{name}"))
            for i, (name, label) in enumerate(FILTER_LABELS.items())
        }
    return TradeFilter(start=start, end=end, **picked)


def chart_tabs(trades: pd.DataFrame) -> None:
    over_time, breakdowns, spread = st.tabs(["P&L over time", "Breakdowns", "Distribution and excursions"])
    with over_time:
        st.plotly_chart(charts.cumulative_pnl(analysis.cumulative(trades)), width="stretch")
        trade_views.period_chart(trades)
    with breakdowns:
        for column, title in BREAKDOWNS:
            st.plotly_chart(charts.pnl_bars(analysis.by(trades, column), column, title), width="stretch")
    with spread:
        st.plotly_chart(charts.distribution(analysis.histogram(trades["realized_pnl"])), width="stretch")
        points = analysis.sample(trades)
        if len(points) < len(trades):
            st.caption(f"Scatter plots show a fixed random sample of {len(points):,} of {len(trades):,} trades.")
        st.plotly_chart(
            charts.scatter(points, "mae_pct", "mfe_pct", "Max adverse vs favourable excursion", "MAE %", "MFE %"),
            width="stretch",
        )
        st.plotly_chart(
            charts.scatter(points, "hold_min", "realized_pnl", "Holding time vs P&L", "minutes held", "P&L"),
            width="stretch",
        )


def table_and_export(url: str, f: TradeFilter, total: int) -> int | None:
    """The newest trades (selectable) and the CSV of every filtered trade; returns the selected id."""
    newest = data.newest_trades(url, f, TABLE_ROWS)
    st.caption(f"Newest {len(newest):,} of {total:,} filtered trades; the CSV holds all of them.")
    shown = in_new_york(newest)
    every = st.toggle("All columns", key="trade_all_columns", help="Off: the columns that fit a phone")
    if not every:
        shown["exit_time (ET)"] = shown["exit_time (ET)"].str[5:]  # month-day and time: the year is the table's
    event = phone_table(shown, NARROW_COLUMNS, every, on_select="rerun", selection_mode="single-row", key="trade_table")
    csv = checked_download(lambda: data.trades_csv(url, f))  # made on the click: only for a live session
    st.download_button("Download CSV", data=csv, file_name="trades.csv", mime="text/csv", key="csv")
    rows = event.selection.rows if event is not None else []
    return int(newest.iloc[rows[0]]["id"]) if rows else None


def trail(selected: int | None, default: int) -> None:
    st.subheader("Trade trail")
    trade_id = st.number_input("Trade id", min_value=1, value=selected or default, step=1, key="trail_id")
    found = trade_reads.trade_trail(data.reader(), int(trade_id))
    if found is None:
        st.warning(f"No trade {trade_id}.")
        return
    t = found.trade
    st.markdown(
        f"**{plain(t['contract'])}** x{t['entry_qty']}: entry {plain(t['entry_reason_code'])} at "
        f"{t['entry_avg']:.2f}, exit {plain(t['exit_reason_code'] or 'open')} at {t['exit_avg'] or 0:.2f}; realized "
        f"P&L {t['realized_pnl']:,.2f} (fees {t['fees']:.2f}); confidence {t['confidence']:.2f}, regime "
        f"{plain(t['regime'])}, model {plain(t['model_version'])}, parameters v{t['param_version']}."
    )
    if t["exit_reason"]:
        st.caption(f"Exit: {plain(t['exit_reason'])}")
    if t.get("status") == "open":
        close_button(int(trade_id), "Close this position", key="trail_close")
    working = found.orders[found.orders["status"].isin(OPEN_ORDER_STATES)] if not found.orders.empty else found.orders
    for order in working.itertuples():
        st.caption(f"Working: {order.side} {int(order.qty)} {plain(order.contract)} ({order.status})")
        cancel_button(str(order.client_order_id), key=f"trail_cancel_{int(order.id)}")
    st.markdown("Orders")
    st.dataframe(in_new_york(found.orders), hide_index=True, width="stretch")
    st.markdown("Fills")
    st.dataframe(in_new_york(found.fills), hide_index=True, width="stretch")
    st.markdown("Decisions that led to it (from 15 minutes before the entry to the exit)")
    st.dataframe(in_new_york(found.decisions), hide_index=True, width="stretch")


require_gate()
st.title("Trades")
url = database_url()
chosen = filters(url)
closed = analysis.with_derived(data.trades(url, chosen))
if closed.empty:
    st.info("No closed trade matches the filters yet.")
else:
    trade_views.headline(closed)
    chart_tabs(closed)
    clicked = trade_views.price_section(url, closed)
    selected = table_and_export(url, chosen, len(closed))
    trail(clicked or selected, int(closed["id"].iloc[-1]))
