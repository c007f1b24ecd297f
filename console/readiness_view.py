"""The Readiness page's parts: the go-live gate criterion by criterion (threshold, value with its
interval and sample size, pass or fail, what is missing, the page behind it), the paper record's
trend over its sessions, and the override: its state and the form that grants or revokes one
(db/go_live.py: a typed reason, a size cap and an expiry, with an audit row and an alert)."""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from console.formatting import plain
from console.layout import page_path
from core.gate import Criterion, GateReport, PaperRecord
from db.go_live import OverrideError, OverrideView, active_override, end_override, grant_override

PAGES = ("Trades", "Parity", "Audit")


def criterion_line(c: Criterion) -> str:
    """One criterion in a sentence that wraps on a phone: its result first, then its value against
    what it needs, then what is missing."""
    result = "pass" if c.passed else "**FAIL**"
    line = f"{result} · {plain(c.name)}: {plain(c.value)} (needs {plain(c.threshold)}, n {c.sample})"
    return line + (f". Missing: {plain(c.missing)}" if c.missing else "")


def criteria_table(report: GateReport) -> None:
    """Each criterion as a line (read on a phone without scrolling sideways), the table behind them
    one click away."""
    with st.container(key="gate_criteria"):
        for c in report.criteria:
            st.markdown(criterion_line(c))
    rows = [
        {"criterion": c.name, "result": "pass" if c.passed else "FAIL", "missing": c.missing, "needs": c.threshold,
         "value": c.value, "n": c.sample, "see": c.link}
        for c in report.criteria
    ]  # fmt: skip
    with st.expander("As a table"):
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for link in sorted({c.link for c in report.failing if c.link in PAGES}):
        st.page_link(page_path(link.lower()), label=f"Open {link}: the figures behind the failing criteria")


def trend_chart(record: PaperRecord) -> go.Figure:
    """Cumulative P&L over the paper sessions with each session's P&L."""
    fig = go.Figure(go.Bar(x=record.sessions, y=record.session_pnls, name="session P&L"))
    fig.add_trace(go.Scatter(x=record.sessions, y=list(accumulate(record.session_pnls)), name="cumulative"))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="$",
                      legend=dict(orientation="h", y=1.1))  # fmt: skip
    return fig


def override_state(ov: OverrideView | None) -> None:
    if ov is None:
        st.caption("No override in force: `--mode live` needs the gate met.")
        return
    st.warning(f"Override {ov.id} by {plain(ov.who)} ({ov.created_at:%Y-%m-%d %H:%M} UTC): {ov.sessions_left} of "
               f"{ov.sessions} live sessions left at {ov.size_cap:.0%} of the size, model {plain(ov.model_version)}, "
               f"parameter version {ov.param_version}. Reason: {plain(ov.reason)}")  # fmt: skip


def override_form(engine: Any, model_version: str, user: str) -> None:
    """Grant an override (refused field by field, storing nothing) or revoke the one in force."""
    ov = active_override(engine)
    override_state(ov)
    with st.expander("Go live without meeting the gate (an override)"):
        with st.form("override_form"):
            reason = st.text_area("Reason (typed, kept in the audit)", key="override_reason")
            cap = st.number_input("Size cap (fraction of the normal size)", 0.01, 0.5, 0.1, 0.01, key="override_cap")
            sessions = st.number_input("Live sessions it allows", 1, 20, 5, key="override_sessions")
            granted = st.form_submit_button("Grant override")
        if granted:
            try:
                new = grant_override(engine, who=user, reason=reason, size_cap=float(cap), sessions=int(sessions),
                                     model_version=model_version)  # fmt: skip
            except OverrideError as exc:
                st.error(f"Override refused: {exc}. Nothing was stored.")
            else:
                st.success(f"Override {new.id} granted: {new.sessions} sessions at {new.size_cap:.0%}.")
        if ov is not None and st.button("Revoke the override", key="override_revoke"):
            end_override(engine, ov.id, "revoked", f"Go-live override {ov.id} revoked by {user} on the console.")
            st.success(f"Override {ov.id} revoked.")
