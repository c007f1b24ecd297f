"""Risk: what the positions held now can cost over the next minutes: net dollar greeks, the shock
grid, each structure's maximum loss, VaR and expected shortfall from the recorded days, and the
limits an entry must keep."""

from __future__ import annotations

import streamlit as st

from console.data import reader
from console.formatting import dollars
from console.login import require_gate
from console.risk_view import greeks_row, limits_line, risk_now, shock_chart, structures_max_loss, var_line
from db import reads
from db.go_live import active_params

require_gate()
st.title("Risk")
engine = reader()
status, held = reads.worker_status(engine), reads.open_positions(engine)
equity_row = reads.latest_equity(engine)
equity = None if equity_row is None else float(equity_row["equity"])
now = risk_now(engine, held, status)
greeks_row(now, equity)
if now.risk is not None:
    st.subheader("Shock grid: P&L of the book if the underlying moves (every held underlying alike)")
    st.plotly_chart(shock_chart(now.risk), width="stretch")
    st.caption("Repriced on the simulator's surface: the VIX moves with the index by its calibrated elasticity, "
               "the same-day vol with the VIX, and the minutes pass (their decay included).")  # fmt: skip
structures = structures_max_loss(held)
if not structures.empty:
    st.subheader("Defined-risk structures: maximum loss at expiry")
    st.dataframe(structures, hide_index=True, width="stretch")
st.subheader("Value at risk")
st.write(dollars(var_line(engine)))  # "... 1,200 $, ... 1,900 $": never math between the two
st.caption(dollars(limits_line(active_params(engine)[1], equity)))
