"""What an opening order carries for the trade its fills open: the cycle's entry record."""

from __future__ import annotations

from dataclasses import dataclass

from core.structures.types import Structure
from core.types import OptionContract, Reason, Right


@dataclass(frozen=True)
class EntryIntent:
    """What the cycle knew when it sent an opening order; becomes the trade's entry record."""

    reason: Reason
    confidence: float
    regime: str
    vix: float
    model_version: str
    param_version: int
    atr_pct: float
    trend_pct: float
    direction: int
    structure: Structure | None = None  # a multi-leg entry: the structure its order opens


def imported_intent(cid: str, contract: OptionContract, sent_for: str, param_version: int) -> EntryIntent:
    """The entry record of an opening fill the worker has no intent for (it restarted, or the
    order was not sent by this process)."""
    return EntryIntent(
        reason=Reason(
            "imported_fill",
            f"Opening fill of order {cid} (sent for {sent_for or 'unknown'}) booked without the intent it "
            "was sent with.",
        ),
        confidence=0.0,
        regime="unknown",
        vix=0.0,
        model_version="",
        param_version=param_version,
        atr_pct=0.0,
        trend_pct=0.0,
        direction=1 if contract.right is Right.CALL else -1,
    )
