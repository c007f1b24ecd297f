"""The banner every page shows while the worker trades live without meeting the go-live gate, and
the gate's verdict beside the Parameters page's Save while the worker trades live."""

from __future__ import annotations

import streamlit as st

from console.data import reader
from console.formatting import dollars, plain
from core.params import ParamsError, validate_params
from db import reads
from db.go_live import (
    active_override,
    current_model_version,
    gate_report,
    judge,
    live_policy_version,
    next_param_version,
)


def _trades_live() -> bool:
    status = reads.worker_status(reader())
    return status is not None and status.get("mode") == "live" and not status.get("stopped")


def live_gate_banner() -> None:
    if not _trades_live():
        return
    model = current_model_version(reader())
    if model is None:
        return
    report, _ = gate_report(reader(), model)
    if report.passed:
        return
    ov = active_override(reader())
    cap = "" if ov is None else f" on override {ov.id} by {plain(ov.who)}: {ov.sessions_left} left at {ov.size_cap:.0%}"
    text = f"LIVE trading while the go-live gate is not met{cap}. {dollars(report.summary())}"
    st.error(text, icon=":material/warning:")  # the gate's figures carry dollar signs


def save_verdict(edited: dict[str, object], stores: str = "Save makes this edit") -> None:
    """Before Save, while the worker trades live: what the go-live gate will do with the version
    Save would store (db/go_live.judge on its id and values, with the policy those values make the
    worker run). Nothing is said when the edit is invalid: Save refuses it and stores nothing."""
    if not _trades_live():
        return
    try:
        params = validate_params(edited)
    except ParamsError:
        return
    engine = reader()
    model = live_policy_version(engine, params.policy_mode)
    if model is None:
        return
    version = next_param_version(engine)
    verdict = judge(engine, model, version, params)
    said = f"The worker trades live; {stores} version {version}, and {dollars(verdict.summary())}"
    if not verdict.allowed:
        st.warning(f"{said}: so the worker will stop opening positions at once and return to paper at the "
                   "next session.", icon=":material/warning:")  # fmt: skip
    elif verdict.report.passed:
        st.info(f"{said}: the worker trades it live at full size.", icon=":material/info:")
    else:
        st.info(f"{said}: the worker trades it live at the override's size cap.", icon=":material/info:")
