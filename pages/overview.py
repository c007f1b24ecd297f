"""Overview: is the worker alive, what state is it in, what does it hold, what did it do today."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from console.controls import heartbeat_age_s
from console.data import reader
from console.formatting import in_new_york
from db import reads

st.title("Overview")


engine = reader()
status = reads.worker_status(engine)
equity = reads.latest_equity(engine)
control = reads.control_state(engine) or {}
age = heartbeat_age_s()

cols = st.columns(4)
cols[0].metric("Trading state", control.get("state", "-"))
cols[1].metric(
    "Worker",
    "never started" if status is None else ("stopped" if status["stopped"] else status["mode"]),
    help="Mode of the last worker that wrote a heartbeat",
)
cols[2].metric("Heartbeat age", "-" if age is None else f"{age:.0f} s")
cols[3].metric("Equity", "-" if equity is None else f"{equity['equity']:,.2f}")
if status and status.get("sim_time"):
    sim_ny = status["sim_time"].astimezone(ZoneInfo("America/New_York"))
    st.caption(f"Simulated clock: {sim_ny:%Y-%m-%d %H:%M} ET; last cycle {status['last_cycle_ms']:.1f} ms")

st.subheader("Open positions")
positions = reads.open_positions(engine)
if positions.empty:
    st.write("No open position.")
else:
    st.dataframe(in_new_york(positions), hide_index=True, width="stretch")

day = reads.trading_day(engine)
st.subheader(f"Trades on {day:%Y-%m-%d}")
trades = reads.trades_on(engine, day)
if trades.empty:
    st.write("No trade this session yet.")
else:
    st.dataframe(in_new_york(trades), hide_index=True, width="stretch")

st.subheader("Trading-state changes")
events = reads.recent_control_events(engine, 10)
if events.empty:
    st.write("None yet.")
else:
    st.dataframe(
        events[["at", "who", "from_state", "to_state", "reason_code", "reason", "applied_summary"]],
        hide_index=True,
        width="stretch",
    )
