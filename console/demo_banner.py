"""The demo preset, said out loud: which policy decides and that the thresholds are the defaults,
with the RL model one click away (db/presets.py explains the preset)."""

from __future__ import annotations

import streamlit as st

from console.controls import operator_name
from console.data import reader, writer
from console.formatting import plain
from core.params import TradingParams, params_to_json
from core.types import PolicyMode
from db import reads
from db.control import save_param_version
from db.presets import DEMO_AUTHOR


def demo_banner() -> None:
    control = reads.control_state(reader()) or {}
    version = reads.param_version(reader(), int(control.get("active_param_version") or 0))
    if not version or version.get("author") != DEMO_AUTHOR:
        return
    st.info(f"**Demo preset (version {version['id']}).** {plain(version.get('note', ''))}", icon=":material/science:")
    if st.button("Use the RL model instead", key="leave_demo"):
        values = {**params_to_json(TradingParams.model_validate(version["values"])), "policy_mode": PolicyMode.RL.value}
        values["max_trades_per_symbol_day"] = TradingParams().max_trades_per_symbol_day  # the default again
        saved = save_param_version(
            writer(), values, author=operator_name(), note="Left the demo preset: the RL model decides."
        )
        st.session_state["params_flash"] = f"Saved version {saved.id}: the RL model decides from the next cycle."
        st.rerun()
