"""Parameters: live tuning. Edits are validated on save (a refused edit names the field and the
rule, and stores nothing); a saved version becomes active and the worker's next cycle uses it."""

from __future__ import annotations

import streamlit as st

from console.controls import operator_name
from console.data import reader, writer
from console.demo_banner import demo_banner
from console.formatting import in_new_york, plain
from console.live_banner import save_verdict
from console.login import require_gate
from console.param_form import diff, editor
from console.whatif_view import section as whatif_section
from core.calendar import NY
from core.params import ParamsError, params_to_json, validate_params
from db import reads
from db.control import revert_to, save_param_version


def flash() -> None:
    message = st.session_state.pop("params_flash", None)
    if message:
        st.success(plain(message))


def active_version(banner_shown: bool) -> tuple[int, dict[str, object]]:
    """The active version's line (its note unless the demo banner above already said it)."""
    control = reads.control_state(reader()) or {}
    version_id = int(control.get("active_param_version") or 0)
    row = reads.param_version(reader(), version_id) or {}
    used = row.get("first_used_at")
    st.markdown(
        f"**Active: version {version_id}** by {plain(row.get('author', '-'))} at "
        f"{row['created_at'].astimezone(NY):%Y-%m-%d %H:%M} ET"
        + (f" ({plain(row['note'])})" if row.get("note") and not banner_shown else "")
        if row
        else "No parameter version yet."
    )
    if used:
        status = reads.worker_status(reader()) or {}
        clock = "simulated clock" if status.get("mode") == "sim" else "market clock"
        st.caption(f"The worker's cycle first used it at {used.astimezone(NY):%Y-%m-%d %H:%M} ET ({clock}).")
    else:
        st.caption("The worker has not run a cycle on it yet.")
    values = params_to_json(validate_params(dict(row.get("values") or {}), strict=False))
    return version_id, values


def save_section(active: dict[str, object], edited: dict[str, object]) -> None:
    changes = diff(active, edited)
    st.subheader("Changes against the active version")
    saved = st.session_state.pop("params_saved", None)
    if saved:  # said where the operator pressed Save (and as a toast): the page top is off screen on a phone
        st.success(saved, icon=":material/check_circle:")
        st.toast(saved)
    elif changes.empty:
        st.write("No change.")
    else:
        st.dataframe(changes, hide_index=True, width="stretch")
    if st.session_state.pop("params_clear_note", False):
        st.session_state["params_note"] = ""  # a note belongs to the version it was saved with
    note = st.text_input("Note (why this change)", key="params_note")
    if not changes.empty:
        save_verdict(edited)  # while the worker trades live: the gate's verdict on the new version, before Save
    if st.button("Save as new version", type="primary", disabled=changes.empty, key="params_save"):
        try:
            version = save_param_version(writer(), edited, author=operator_name(), note=note)
        except ParamsError as refused:
            for error in refused.errors:
                st.error(f"Refused, nothing was stored: `{error.field}` {error.rule}.")
            return
        st.session_state["params_saved"] = f"Saved version {version.id}; the worker applies it on its next cycle."
        st.session_state["params_clear_note"] = True
        st.rerun()


def history(active_id: int) -> None:
    st.subheader("History")
    versions = reads.param_versions(reader())
    st.dataframe(in_new_york(versions), hide_index=True, width="stretch")
    earlier = [int(v) for v in versions["id"] if int(v) != active_id]
    if not earlier:
        return
    cols = st.columns([1, 2, 1], vertical_alignment="bottom")
    target = cols[0].selectbox("Version", earlier, key="revert_to")
    note = cols[1].text_input("Revert note", key="revert_note")
    old = reads.param_version(reader(), int(target)) or {}
    save_verdict(dict(old.get("values") or {}), f"Revert stores version {target} as")  # a new version too
    if cols[2].button("Revert", key="revert"):
        version = revert_to(writer(), int(target), operator_name(), note)
        st.session_state["params_flash"] = f"Reverted to version {target} as new version {version.id}."
        st.rerun()


require_gate()
st.title("Parameters")
banner_shown = demo_banner()
flash()
version_id, active = active_version(banner_shown)
edited = editor(active, version_id)
save_section(active, edited)
whatif_section(edited)
history(version_id)
