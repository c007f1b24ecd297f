"""The emergency stop, the stop-new-entries control and resume, shown on every page.

Stop is one click, no dialog: HALTED with flatten and an audit row. "Stop entries" sets REDUCING
(no new positions, exits go on). Resume asks for a confirmation first. All are idempotent: asking
for the state already in force writes nothing, so a double click or a rerun applies nothing twice.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from console.broker_stop import REAL_MODES, flatten_at_broker, trading_mode
from console.data import reader, writer
from console.formatting import plain
from console.login import session_dialog, session_fragment
from core.calendar import NY
from core.types import TradingState
from db import reads
from db.control import set_trading_state
from db.engine import database_url

STATE_COLOURS = {"ACTIVE": "green", "REDUCING": "orange", "HALTED": "red"}
STALE_HEARTBEAT_S = 15


def operator_name() -> str:
    return str(st.session_state.get("user") or os.environ.get("CONSOLE_OPERATOR", "operator"))


def heartbeat_age_s(status: dict[str, Any] | None) -> float | None:
    """Seconds since the worker's last heartbeat (None when no worker ever ran)."""
    if not status:
        return None
    return (datetime.now(UTC) - status["heartbeat_at"]).total_seconds()


LIVE_REFRESH_S = 2.0
RESUME_OPEN = "resume_dialog_open"  # session flag: the resume confirmation is open
# The bar stays on screen while the page scrolls (phone and desktop), below Streamlit's header.
STICKY_CSS = """
<style>
div[data-testid="stLayoutWrapper"]:has(> .st-key-control_bar) {
  position: sticky; top: 3.75rem; z-index: 999;
  background-color: var(--background-color, #ffffff);
  padding: 0.2rem 0 0.35rem 0; border-bottom: 1px solid rgba(128, 128, 128, 0.35);
}
.st-key-control_bar h4 { padding: 0; margin: 0; font-size: 1.1rem; }
.st-key-control_bar [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; gap: 0.5rem; }
.st-key-control_bar [data-testid="stColumn"] { min-width: 0; flex: 1 1 0; }
.st-key-control_bar [data-testid="stCaptionContainer"] { margin: 0; }
</style>
"""


def control_panel() -> None:
    """Trading state, the stop button and resume, at the top of every page and stuck there while
    it scrolls (phone included: the sidebar is collapsed on a phone, so the stop never lives
    there). The bar refreshes itself every LIVE_REFRESH_S seconds without rerunning the page."""
    st.html(STICKY_CSS)
    with st.container(key="control_bar"):
        live_bar()
    if st.session_state.get(RESUME_OPEN):  # opened here, outside the refreshing bar, so it never flickers
        _confirm_resume(str(st.session_state.get("control_reason") or "").strip())


@session_fragment(run_every=LIVE_REFRESH_S)
def live_bar() -> None:
    control = reads.control_state(reader()) or {}
    state = control.get("state", "ACTIVE")
    status = reads.worker_status(reader())
    mode = trading_mode(status)
    if mode == "live":
        st.error("**LIVE TRADING: this worker trades real money at Alpaca.**", icon=":material/warning:")
    st.markdown(f"#### Trading state: :{STATE_COLOURS.get(state, 'gray')}[{state}]")
    st.caption(worker_line(status))
    middle, right = st.columns(2, vertical_alignment="center")
    if st.session_state.pop("clear_control_reason", False):
        st.session_state["control_reason"] = ""  # a reason is for one action
    typed = st.text_input(
        "Reason (optional)",
        key="control_reason",
        placeholder="Reason (optional): written with the next action",
        label_visibility="collapsed",
    ).strip()
    notices = st.container()
    if middle.button(
        "EMERGENCY STOP",
        key="stop",
        type="primary",
        width="stretch",
        help="Halt now: cancel every open order and close every position.",
    ):
        event = set_trading_state(
            writer(),
            TradingState.HALTED,
            operator_name(),
            "operator_stop",
            _why("Emergency stop from the console", typed),
            flatten=True,
        )
        st.session_state["clear_control_reason"] = True
        notices.warning("Stop recorded: HALTED with flatten." if event else "Already halted with flatten.")
        if mode in REAL_MODES:  # also straight to the broker: works while the worker is down
            flat, summary = flatten_at_broker(database_url(), mode, operator_name())
            (notices.success if flat else notices.error)(plain(summary))
        state = TradingState.HALTED.value
        control = reads.control_state(reader()) or {}
    if right.button(
        "Stop new entries",
        key="reduce",
        width="stretch",
        disabled=state == "HALTED",
        help="REDUCING: no new positions; open ones are still managed by the exit rules.",
    ):
        why = _why("New entries stopped from the console", typed)
        event = set_trading_state(writer(), TradingState.REDUCING, operator_name(), "operator_reduce", why)
        st.session_state["clear_control_reason"] = True
        notices.warning("Recorded: REDUCING, no new entries." if event else "Already reducing.")
        state = TradingState.REDUCING.value
    if state == "HALTED":
        _halt_confirmation(notices, control, status)
    if state != "ACTIVE":
        _resume(notices)
    else:
        _close_resume()  # resumed (here or elsewhere): nothing left to confirm


def _why(action: str, typed: str) -> str:
    """The audit row's reason: the action, and the operator's own words when typed."""
    return f"{action}: {typed}" if typed else f"{action}."


def worker_line(status: dict[str, Any] | None) -> str:
    """The worker's heartbeat in a few words: how long ago, and its clock (ET; simulated in sim)."""
    age = heartbeat_age_s(status)
    if status is None or age is None:
        return "Worker: never started"
    if status.get("stopped"):
        return f"Worker: stopped {age:.0f} s ago"
    beat = "stale" if age > STALE_HEARTBEAT_S else "alive"
    clock = reads.worker_clock(status)  # the newest cycle, not a lagging heartbeat
    when = ""
    if clock is not None:
        simulated = " simulated" if status.get("mode") == "sim" else ""
        when = f" · clock {clock.now.astimezone(NY):%a %H:%M} ET{simulated}"
    return f"Worker: {beat}, beat {age:.0f} s ago{when}"


def _halt_confirmation(area: DeltaGenerator, control: dict[str, object], status: dict[str, Any] | None) -> None:
    applied = control.get("halt_applied_at")
    age = heartbeat_age_s(status)
    if applied:
        area.success(f"Worker confirmed: {plain(control.get('halt_summary'))}")
    elif control.get("halt_summary"):  # the worker tried and the broker is not flat yet
        area.error(f"STOP INCOMPLETE: {plain(control.get('halt_summary'))}")
    elif age is None or age > STALE_HEARTBEAT_S:
        area.error("Worker heartbeat is stale: the halt is recorded but not yet carried out.")
    else:
        area.info("Waiting for the worker to cancel orders and flatten...")


def _resume(area: DeltaGenerator) -> None:
    """The button opens the confirmation with a whole-page run: the dialog belongs to the page,
    not to this fragment, whose 2-second refreshes would close and reopen it (for about a second
    the confirm button was gone from under the operator's finger)."""
    if area.button("Resume trading...", key="resume"):
        st.session_state[RESUME_OPEN] = True
        st.rerun(scope="app")


def _close_resume() -> None:
    st.session_state.pop(RESUME_OPEN, None)


@session_dialog("Resume trading?", on_dismiss=_close_resume)
def _confirm_resume(typed: str) -> None:
    """A modal confirmation: resuming re-enables entries, so it is never one click."""
    if (reads.control_state(reader()) or {}).get("state", "ACTIVE") == "ACTIVE":
        st.info("Trading is already ACTIVE (resumed elsewhere): nothing to confirm.")
        if st.button("Close", key="close_resume"):
            _close_resume()
            st.rerun()
        return
    st.warning("Resume sets the state to ACTIVE: new entries will be allowed.")
    confirm, cancel = st.columns(2)
    if confirm.button("Confirm resume", key="confirm_resume_button", type="primary"):
        set_trading_state(
            writer(),
            TradingState.ACTIVE,
            operator_name(),
            "operator_resume",
            _why("Resumed from the console after confirmation", typed),
        )
        st.session_state["clear_control_reason"] = True
        _close_resume()
        st.rerun()
    if cancel.button("Cancel", key="cancel_resume"):
        _close_resume()
        st.rerun()
