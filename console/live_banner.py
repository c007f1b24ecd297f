"""The banner every page shows while the worker trades live without meeting the go-live gate."""

from __future__ import annotations

import streamlit as st

from console.data import reader
from db import reads
from db.go_live import active_override, current_model_version, gate_report


def live_gate_banner() -> None:
    status = reads.worker_status(reader())
    if status is None or status.get("mode") != "live" or status.get("stopped"):
        return
    model = current_model_version(reader())
    if model is None:
        return
    report, _ = gate_report(reader(), model)
    if report.passed:
        return
    ov = active_override(reader())
    cap = "" if ov is None else f" on override {ov.id} by {ov.who}: {ov.sessions_left} left at {ov.size_cap:.0%}"
    st.error(f"LIVE trading while the go-live gate is not met{cap}. {report.summary()}", icon=":material/warning:")
