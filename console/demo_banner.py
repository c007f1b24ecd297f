"""The demo preset, said out loud and once: who decides and what the preset changes from the
defaults, read from the active version's own values (db/presets.py makes the preset), with the
RL model one click away."""

from __future__ import annotations

from typing import Any

import streamlit as st

from console.controls import operator_name
from console.data import reader, writer
from console.formatting import plain
from core.params import TradingParams, params_to_json
from core.types import PolicyMode
from db import reads
from db.control import save_param_version
from db.presets import DEMO_AUTHOR, demo_note


def preset_changes(values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each parameter the preset sets away from its default: name -> (preset's value, default)."""
    preset = params_to_json(TradingParams.model_validate(values))
    defaults = params_to_json(TradingParams())
    return {name: (value, defaults.get(name)) for name, value in preset.items() if value != defaults.get(name)}


def demo_text(version_id: int, values: dict[str, Any], note: str) -> str:
    """The banner: who decides, the entry cap, any other change, the rest default; the version's
    note only where someone wrote another than the preset's own (that one says the same again)."""
    changes = preset_changes(values)
    mode = changes.pop("policy_mode", (TradingParams().policy_mode.value, None))[0]
    who = "the rule baseline decides" if mode == PolicyMode.RULES.value else f"policy_mode {plain(mode)} decides"
    said = [f"{who} (policy_mode {plain(mode)})"]
    cap = changes.pop("max_trades_per_symbol_day", None)
    if cap is not None:
        raised = "raised" if cap[0] > cap[1] else "changed"
        said.append(f"its entry cap {raised}: max_trades_per_symbol_day is {cap[0]} (default {cap[1]})")
    said += [f"{plain(name)} is {plain(value)} (default {plain(default)})" for name, (value, default) in
             changes.items()]  # fmt: skip
    text = f"**Demo preset (version {version_id}):** " + "; ".join(said) + ". Every other parameter is its default."
    if note and note != demo_note(TradingParams()):
        text += f" Note: {plain(note)}"
    return text


def demo_banner() -> bool:
    """The banner and the way out of the preset, where the active version is the demo preset;
    whether it was shown (the page then need not repeat the version's note)."""
    control = reads.control_state(reader()) or {}
    version = reads.param_version(reader(), int(control.get("active_param_version") or 0))
    if not version or version.get("author") != DEMO_AUTHOR:
        return False
    text = demo_text(int(version["id"]), dict(version["values"]), str(version.get("note") or ""))
    st.info(text, icon=":material/science:")
    if st.button("Use the RL model instead", key="leave_demo"):
        values = {**params_to_json(TradingParams.model_validate(version["values"])), "policy_mode": PolicyMode.RL.value}
        values["max_trades_per_symbol_day"] = TradingParams().max_trades_per_symbol_day  # the default again
        saved = save_param_version(
            writer(), values, author=operator_name(), note="Left the demo preset: the RL model decides."
        )
        st.session_state["params_flash"] = f"Saved version {saved.id}: the RL model decides from the next cycle."
        st.rerun()
    return True
