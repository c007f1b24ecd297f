"""Parity: each recorded paper or live day replayed on its own recordings, worst day first: how
many decisions the replay reproduced, and each real fill beside the simulator's on the same quotes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console import charts
from console.data import reader
from console.formatting import in_new_york
from console.login import require_gate
from db import parity_reads

HOW = (
    "A recording worker computes each day five minutes after the close; `python -m worker.parity` "
    "recomputes any range (`--start/--end`). "
    "Paper and live workers record what they saw; the replay runs the same cycle on it."
)


def days_table(days: pd.DataFrame) -> None:
    st.subheader("Recorded days, worst first")
    shown = days.rename(
        columns={
            "agreement_pct": "decisions agree %",
            "fills_both": "fills both",
            "live_only": "live only",
            "sim_only": "sim only",
            "cost_median": "median $/contract",
            "slippage_pct_median": "median slippage %",
        }
    )
    st.dataframe(in_new_york(shown), hide_index=True, width="stretch")


def one_day(day: str) -> None:
    row = parity_reads.parity_day(reader(), day)
    if row is None:
        return
    cols = st.columns(3)
    cols[0].metric("Decisions agree", f"{row['agreement_pct']:.1f}%", f"{row['agreeing']}/{row['decisions']}")
    cols[1].metric("Filled on one side only", f"{row['live_only'] + row['sim_only']}")
    median = row["cost_median"]
    cols[2].metric("Median live minus sim", "-" if median is None else f"${median:+.2f}/contract")
    fills = parity_reads.parity_fills(reader(), day)
    both = fills[fills["outcome"] == "both"]
    if not both.empty:
        st.plotly_chart(charts.slippage_histogram(both["cost_per_contract"]), width="stretch")
    one_sided = fills[fills["outcome"].isin(["live_only", "sim_only"])]
    st.markdown("**Orders that filled on one side only**")
    st.dataframe(in_new_york(one_sided), hide_index=True, width="stretch") if not one_sided.empty else st.write("None.")
    differences = pd.DataFrame(row["differences"] or [])
    st.markdown("**First decisions that differ** (live vs replayed: action/final/block/exit)")
    st.dataframe(differences, hide_index=True, width="stretch") if not differences.empty else st.write("None.")
    with st.expander("Every fill"):
        st.dataframe(in_new_york(fills), hide_index=True, width="stretch")


require_gate()
st.title("Parity")
st.caption(HOW)
stored = parity_reads.parity_days(reader())
if stored.empty:
    st.info("No parity report yet. " + HOW)
else:
    days_table(stored)
    picked = st.selectbox("Day", stored["day"].tolist(), key="parity_day")
    if picked:
        one_day(str(picked))
