"""Overview: is the worker alive, what state is it in, what does it hold, what did it just do.
Refreshes itself every few seconds."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from console import charts
from console.data import reader
from console.demo_banner import demo_banner
from console.figures_view import demo_measured, read_figures
from console.formatting import in_new_york
from console.layout import PhoneColumns, compact_grid, page_path, phone_table
from console.login import require_gate, session_fragment
from console.position_controls import position_and_order_controls
from console.position_view import log_tail, position_cards
from console.risk_view import greeks_row, risk_now
from core.calendar import NY
from db import decision_reads, reads
from db.decision_reads import DecisionFilter

REFRESH_S = 5
# What a trader acts on in the latest decisions, within a phone's width: what the worker finally
# did and what blocked it, then which symbol and when (the clock time: they are minutes old).
DECISION_COLUMNS = PhoneColumns((("final_action", 100), ("blocked_by", 135), ("symbol", 55), ("time (ET)", 60)))
WORKER_LOG = "data/worker.log"  # where `make run` writes it; compose: set WORKER_LOG


def headline(status: dict[str, Any] | None, held: pd.DataFrame, equity: dict[str, Any] | None) -> None:
    """Equity, today's P&L, open positions and the worker's mode in a compact grid (the state and
    the heartbeat are in the bar above every page)."""
    today = None if equity is None else equity["equity"] - equity["start_of_day"]
    with compact_grid("overview_headline"):
        cells = st.columns(4)
    top, bottom = cells[:2], cells[2:]
    top[0].metric("Equity", "-" if equity is None else f"{equity['equity']:,.0f}")
    top[1].metric("Today's P&L", "-" if today is None else f"{today:+,.2f}")
    bottom[0].metric("Open positions", len(held))
    bottom[1].metric(
        "Worker",
        "never started" if status is None else ("stopped" if status["stopped"] else status["mode"]),
        help="Mode of the last worker that wrote a heartbeat",
    )
    if status and (status.get("sim_time") or status.get("cycle_time")):
        clock = reads.market_clock(reader(), status).now.astimezone(NY)  # the newest cycle, not a lagging beat
        st.caption(
            f"Worker clock {clock:%Y-%m-%d %H:%M} ET ({'simulated' if status['mode'] == 'sim' else 'market'}); "
            f"last cycle {status['last_cycle_ms']:.1f} ms"
        )


def equity_chart() -> None:
    curve = reads.equity_curve(reader())
    if curve.empty:
        st.info("No equity recorded yet: the worker has not run a cycle.")
    else:
        st.plotly_chart(charts.equity_with_drawdown(curve), width="stretch")


def positions(status: dict[str, Any] | None, held: pd.DataFrame) -> None:
    st.subheader("Open positions")
    if held.empty:
        st.write("No open position.")
    else:
        position_cards(reader(), held, reads.market_clock(reader(), status))
        with st.expander("As a table"):
            table(held, "")
    working = reads.open_orders(reader())
    if not working.empty:
        st.subheader("Working orders")
        table(working, "")


def risk_summary(status: dict[str, Any] | None, held: pd.DataFrame, equity: dict[str, Any] | None) -> None:
    """The book's greeks and worst shock, with the Risk page for the grid."""
    if held.empty:
        return
    greeks_row(risk_now(reader(), held, status), None if equity is None else float(equity["equity"]))
    st.page_link(page_path("risk"), label="Risk: the shock grid, maximum losses, VaR and the limits")


def table(frame: pd.DataFrame, empty: str) -> None:
    if frame.empty:
        st.write(empty)
    else:
        st.dataframe(in_new_york(frame), hide_index=True, width="stretch")


def worker_events_and_log() -> None:
    with st.expander("Worker events and log"):
        table(reads.events(reader(), limit=15), "No event yet.")
        lines = log_tail(os.environ.get("WORKER_LOG", WORKER_LOG))
        if lines:
            st.code("\n".join(lines), language=None)
        else:
            st.caption(f"No log file at {os.environ.get('WORKER_LOG', WORKER_LOG)} (set WORKER_LOG).")


def latest_decisions(frame: pd.DataFrame) -> None:
    """The newest decisions, their final action and block first (all columns one toggle away)."""
    if frame.empty:
        st.write("None yet.")
        return
    shown = in_new_york(frame)
    every = st.toggle("All columns", key="overview_decision_columns", help="Off: the columns that fit a phone")
    if not every:  # the clock time alone: the latest decisions are minutes old
        shown["time (ET)"] = shown["time (ET)"].str[-5:]
    phone_table(shown, DECISION_COLUMNS, every)


def latest_decisions_and_alerts() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Latest decisions")
        latest_decisions(decision_reads.latest(reader(), DecisionFilter(), limit=10))
    with right:
        st.subheader("Worker warnings")
        table(reads.worker_warnings(reader()), "No warning.")


@session_fragment(run_every=REFRESH_S)
def live_headline() -> None:
    """Equity and today's P&L first, above any banner: on a phone they are the first screen."""
    headline(reads.worker_status(reader()), reads.open_positions(reader()), reads.latest_equity(reader()))


@session_fragment(run_every=REFRESH_S)
def live() -> None:
    status, held = reads.worker_status(reader()), reads.open_positions(reader())  # read once a refresh
    equity = reads.latest_equity(reader())
    equity_chart()
    positions(status, held)
    risk_summary(status, held, equity)
    latest_decisions_and_alerts()
    worker_events_and_log()


require_gate()
st.title("Overview")
live_headline()
if demo_banner():  # what the demo is, then what it has measured on real sessions (docs/figures.json)
    st.caption(demo_measured(read_figures()))
live()
position_and_order_controls()
