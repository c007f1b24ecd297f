"""The parameter editor's widgets and diff: one widget per field, built from core.params'
catalog (group, unit, help). Validation is not done here but by the server-side save."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pandas as pd
import streamlit as st

from core.params import GROUPS, field_catalog

FINE_UNITS = {"probability", "delta"}


def _widget(field: dict[str, Any], current: Any, key: str) -> Any:
    label = f"{field['name']} ({field['unit']})" if field["unit"] else field["name"]
    if field["options"] is not None:
        return st.multiselect(label, field["options"], default=[str(v) for v in current], help=field["help"], key=key)
    if isinstance(field["default"], StrEnum):
        options = [m.value for m in type(field["default"])]
        return st.selectbox(label, options, index=options.index(str(current)), help=field["help"], key=key)
    if isinstance(field["default"], bool):
        return st.checkbox(label, value=bool(current), help=field["help"], key=key)
    if isinstance(field["default"], int):
        return int(st.number_input(label, value=int(current), step=1, help=field["help"], key=key))
    step = 0.01 if field["unit"] in FINE_UNITS else 0.5
    return float(st.number_input(label, value=float(current), step=step, format="%g", help=field["help"], key=key))


def editor(active: dict[str, Any], version_id: int) -> dict[str, Any]:
    """Every parameter, grouped in tabs, starting from the active values; returns the edited set.
    Widget keys carry the active version, so a save or revert starts the form afresh."""
    catalog = field_catalog()
    edited: dict[str, Any] = {}
    for group, tab in zip(GROUPS, st.tabs([g.replace("_", "-").capitalize() for g in GROUPS]), strict=True):
        with tab:
            for field in (f for f in catalog if f["group"] == group):
                name = field["name"]
                current = active.get(name, field["default"])
                edited[name] = _widget(field, current, key=f"v{version_id}_{name}")
    return edited


def diff(active: dict[str, Any], edited: dict[str, Any]) -> pd.DataFrame:
    """Changed fields: name, active value, new value (lists compared as lists)."""
    rows = []
    for name, new in edited.items():
        old = active.get(name)
        if _normal(old) != _normal(new):
            rows.append({"parameter": name, "active": str(old), "new": str(new)})
    return pd.DataFrame(rows, columns=["parameter", "active", "new"])


def _normal(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, list | tuple) else value
