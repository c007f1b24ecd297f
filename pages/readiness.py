"""Readiness: the go-live gate. Each criterion with its threshold, value, sample size, pass or
fail and what is missing; the paper record's trend; the override in force and its form."""

from __future__ import annotations

import streamlit as st

from console.controls import operator_name
from console.data import reader, writer
from console.formatting import dollars
from console.login import require_gate
from console.readiness_view import criteria_table, override_form, trend_chart
from db.go_live import current_model_version, gate_report

require_gate()
st.title("Readiness")
model = current_model_version(reader())
if model is None:
    st.info("No worker decision yet: the gate is judged for the model and parameters the worker runs.")
    st.stop()
report, record = gate_report(reader(), model)
(st.success if report.passed else st.error)(dollars(report.summary()))  # its figures carry dollar signs
st.caption(dollars(f"The paper record of strategy {record.strategy}, parameter version {record.param_version} and "
                   f"model {record.model_version}: {len(record.sessions)} sessions, {len(record.trade_pnls)} closed "
                   "trades. A change of any of them starts a new record."))  # fmt: skip
criteria_table(report)
if record.sessions:
    st.subheader("The paper sessions")
    st.plotly_chart(trend_chart(record), width="stretch")
if record.other_versions:
    st.caption(dollars("Earlier records: " + "; ".join(record.other_versions)))
override_form(writer(), model, operator_name())
