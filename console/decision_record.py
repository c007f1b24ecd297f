"""One decision's record as a trader reads it: fields in plain words, times in New York market
time (labelled ET, and simulated where the worker's clock was), numbers at the precision they
carry (probabilities to three places, prices to the cent), not a JSON dump with UTC times and
sixteen digits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from console.formatting import plain
from console.layout import PhoneColumns
from core.calendar import NY

# Field and value side by side within a phone's width (a value too long for it is in `outcome`
# above the table when it is the reason, or the whole row on a wider screen).
RECORD_COLUMNS = PhoneColumns((("field", 135), ("value", 215)))

# (field, label, format): the order a reader wants; anything not listed follows, as stored
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("time", "cycle time", "time"),
    ("bar_time", "bar time", "time"),
    ("symbol", "symbol", "text"),
    ("action", "the policy chose", "text"),
    ("confidence", "confidence", "prob"),
    ("final_action", "final action", "text"),
    ("blocked_by", "blocked by", "text"),
    ("blocked_reason", "why", "text"),
    ("exit_code", "exit sent", "text"),
    ("p_hold", "P(hold)", "prob"),
    ("p_buy_call", "P(buy call)", "prob"),
    ("p_buy_put", "P(buy put)", "prob"),
    ("p_close", "P(close)", "prob"),
    ("underlying_price", "underlying", "price"),
    ("vix", "VIX", "price"),
    ("iv_rank", "IV rank", "num1"),
    ("regime", "regime", "text"),
    ("trend_pct", "trend %", "pct"),
    ("vwap_dist_pct", "distance to VWAP %", "pct"),
    ("rsi_14", "RSI 14", "num1"),
    ("atr_pct", "ATR %", "pct"),
    ("rv_annual_pct", "realized vol % (annual)", "num1"),
    ("volume_z", "volume z-score", "num2"),
    ("price_source", "option priced from", "text"),
    ("data_source", "data source", "text"),
    ("degraded", "degraded data", "text"),
    ("order_client_id", "order", "text"),
    ("param_version", "parameter version", "text"),
    ("model_version", "model", "text"),
    ("latency_ms", "cycle latency ms", "num1"),
    ("run_id", "run", "text"),
    ("run_mode", "run mode", "text"),
    ("id", "decision id", "text"),
)
_FORMATS = {"prob": "{:.3f}", "price": "{:,.2f}", "pct": "{:+.3f}", "num1": "{:.1f}", "num2": "{:.2f}"}


def _value(value: Any, kind: str, simulated: bool) -> str:
    if value is None:
        return "-"
    if kind == "time" and isinstance(value, datetime):
        return f"{value.astimezone(NY):%Y-%m-%d %H:%M:%S} ET" + (" (simulated)" if simulated else "")
    if kind in _FORMATS and isinstance(value, int | float) and not isinstance(value, bool):
        return _FORMATS[kind].format(value)
    return str(value)


def readable(record: dict[str, Any], simulated: bool) -> pd.DataFrame:
    """(field, value) rows of one decision, in reading order, every value as text."""
    known = {name for name, _, _ in FIELDS}
    rows = [{"field": label, "value": _value(record.get(name), kind, simulated)} for name, label, kind in FIELDS
            if name in record]  # fmt: skip
    rows += [{"field": name, "value": str(v)} for name, v in record.items() if name not in known]
    return pd.DataFrame(rows, columns=["field", "value"])


def outcome(record: dict[str, Any]) -> str:
    """The record's verdict in one sentence that wraps on a phone: what the policy chose, what the
    worker finally did, and what blocked it and why (its own words, shown as text)."""
    said = (f"**{plain(record.get('symbol') or '-')}**: the policy chose {plain(record.get('action') or '-')}, "
            f"the worker did **{plain(record.get('final_action') or '-')}**")  # fmt: skip
    if record.get("blocked_by"):
        said += f", blocked by **{plain(record['blocked_by'])}**"
        if record.get("blocked_reason"):
            said += f": {plain(record['blocked_reason'])}"
    return said + "."
