"""Typed records that cross layers: what the cycle hands to the journal.

`DecisionRow` is a NamedTuple: named and typed for readers and writers, and still a plain tuple
on the hot path (one per bar and symbol), so the journal can write it positionally.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class DecisionRow(NamedTuple):
    """One decision: the field order is the `decision` table's insert order."""

    time: datetime
    bar_time: float | None  # the newest completed bar's start, epoch seconds (as the bars hold it)
    symbol: str
    p_hold: float
    p_buy_call: float
    p_buy_put: float
    p_close: float
    action: str
    confidence: float
    final_action: str
    blocked_by: str | None
    blocked_reason: str | None
    exit_code: str | None
    regime: str
    vix: float
    iv_rank: float
    underlying_price: float
    rsi_14: float | None
    vwap_dist_pct: float | None
    trend_pct: float | None
    atr_pct: float | None
    rv_annual_pct: float | None
    volume_z: float | None
    param_version: int
    model_version: str
    data_source: str
    degraded: int
    latency_ms: float
    order_client_id: str | None
    price_source: str | None = None  # the option price's source (core.types.PriceSource); None: none priced
    p_neutral: float | None = None  # a neutral entry's probability (the credit set's iron condor); None: none
