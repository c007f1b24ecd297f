"""Close one position, cancel one order: the console writes a request row (with who and the
optional typed reason) and the worker carries it out through its order path on its next control
tick (db/control_requests.py, worker/process/requests.py). A request for something no longer open is
refused with the reason and stores nothing."""

from __future__ import annotations

import streamlit as st

from console.controls import operator_name
from console.data import reader, writer
from console.formatting import in_new_york, plain
from console.login import session_fragment
from db import control_requests, reads
from db.control_requests import RequestRefusedError


def close_button(trade_id: int, label: str, key: str) -> None:
    """One position's close, with an optional reason (used by the Overview and the trade trail)."""
    reason = st.text_input("Reason (optional)", key=f"{key}_reason", placeholder="why close it now")
    if st.button(label, key=key, type="primary"):
        try:
            request_id = control_requests.request_close(writer(), trade_id=trade_id, who=operator_name(), reason=reason)
        except RequestRefusedError as exc:
            st.error(f"Refused: {plain(exc)}.")
        else:
            st.success(f"Close requested (request {request_id}): the worker sends the exit on its next tick.")


def cancel_button(client_order_id: str, key: str) -> None:
    reason = st.text_input("Reason (optional)", key=f"{key}_reason", placeholder="why cancel it")
    if st.button("Cancel this order", key=key):
        try:
            request_id = control_requests.request_cancel(
                writer(), client_order_id=client_order_id, who=operator_name(), reason=reason
            )
        except RequestRefusedError as exc:
            st.error(f"Refused: {plain(exc)}.")
        else:
            st.success(f"Cancel requested (request {request_id}).")


@session_fragment()
def position_and_order_controls() -> None:
    """On the Overview: pick one open position to close or one working order to cancel (read in
    the fragment, so a rerun after a request offers what is open now)."""
    positions, orders = reads.open_positions(reader()), reads.open_orders(reader())
    if positions.empty and orders.empty:
        return
    with st.expander("Close a position or cancel an order", expanded=False):
        if not positions.empty:
            labels = {int(r.id): f"trade {int(r.id)}: {r.contract} x{int(r.qty_open)}" for r in positions.itertuples()}
            chosen = st.selectbox("Position", list(labels), format_func=labels.__getitem__, key="close_pick")
            close_button(int(chosen), "Close this position", key="close_position")
        if not orders.empty:
            names = {
                str(r.client_order_id): f"{r.side} {int(r.qty)} {r.contract} ({r.status})" for r in orders.itertuples()
            }
            picked = st.selectbox("Working order", list(names), format_func=names.__getitem__, key="cancel_pick")
            cancel_button(str(picked), key="cancel_order")
        recent = reads.control_requests(reader(), limit=5)
        if not recent.empty:
            st.caption("Recent requests")
            st.dataframe(
                in_new_york(recent[["at", "who", "kind", "trade_id", "reason", "status", "result"]]),
                hide_index=True,
                width="stretch",
            )
