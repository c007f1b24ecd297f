"""Audit: every trading-state change (who, when, why, when the worker carried it out), every
close-this-position and cancel-this-order request (who, why, what the worker did), every
parameter version, every console login attempt (who, from where, how it ended), and the
worker's events."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console.data import reader
from console.formatting import in_new_york
from console.login import require_gate
from db import reads


def state_changes() -> None:
    st.subheader("Trading-state changes")
    frame = reads.control_events(reader())
    if frame.empty:
        st.write("None yet.")
        return
    who = st.multiselect("Who", sorted(frame["who"].unique()), key="audit_who")
    shown = frame[frame["who"].isin(who)] if who else frame
    st.dataframe(clocks_named(in_new_york(shown)), hide_index=True, width="stretch")
    st.caption(
        "at: when it was asked, on the wall clock; applied_at: when the worker carried it out, on the worker's "
        "clock (simulated in sim mode, so the two need not agree)."
    )


def clocks_named(frame: pd.DataFrame) -> pd.DataFrame:
    """Say which clock each time column is on: the operator's wall clock, or the worker's."""
    status = reads.worker_status(reader()) or {}
    worker = "worker clock, simulated" if status.get("mode") == "sim" else "worker clock"
    return frame.rename(columns={"at (ET)": "at (ET, wall clock)", "applied_at (ET)": f"applied_at (ET, {worker})"})


def table(title: str, frame: pd.DataFrame, empty: str = "None yet.") -> None:
    """One section of the Audit: its rows in market time, or what it means that there are none."""
    st.subheader(title)
    if frame.empty:
        st.write(empty)
    else:
        st.dataframe(in_new_york(frame), hide_index=True, width="stretch")


def parameter_versions() -> None:
    st.subheader("Parameter versions")
    st.dataframe(in_new_york(reads.param_versions(reader())), hide_index=True, width="stretch")


require_gate()
st.title("Audit")
state_changes()
table("Position and order requests", reads.control_requests(reader(), limit=500))
parameter_versions()
table(
    "Console logins",
    reads.login_attempts(reader()),
    "None yet (without a password hash the console serves loopback only, with no login).",
)
table(
    "Chat commands", reads.chat_commands(reader()), "None yet (python -m worker.chat, when TELEGRAM_BOT_TOKEN is set)."
)
table(
    "Go-live overrides",
    reads.live_overrides(reader()),
    "None (the Readiness page, or python -m worker.go_live override).",
)
table("Worker events", reads.events(reader()))
