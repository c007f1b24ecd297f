"""Which structure `strategy = auto` trades, from the regime and the VIX's one-year rank.

Selling premium pays when implied vol is rich and the day is not running away; buying it pays
when vol is cheap and the market trends. The table (also in the README):

| regime | IV rank < 30 | 30 to 70 | > 70 |
|---|---|---|---|
| calm | long option | iron condor | iron condor |
| normal | long option | credit spread | iron condor |
| storm | credit spread | credit spread | credit spread |
| crash | none | none | none |

"Long option": a call in an up-trend, a put in a down-trend (the direction from the policy).

"Credit spread": against the trend, a put credit spread in an up-trend (sell the puts below), a call credit
spread in a down-trend. Crash days open nothing new.
"""

from __future__ import annotations

from core.structures.types import StructureKind
from core.types import Regime

LOW_RANK = 30.0
HIGH_RANK = 70.0


def auto_structure(regime: Regime, iv_rank: float, direction: int) -> StructureKind | None:
    """The structure for this regime, IV rank and trend direction (+1 up, -1 down); None: no entry."""
    if regime is Regime.CRASH or direction == 0:
        return None
    long_option = StructureKind.LONG_CALL if direction > 0 else StructureKind.LONG_PUT
    credit_spread = StructureKind.PUT_CREDIT_SPREAD if direction > 0 else StructureKind.CALL_CREDIT_SPREAD
    if regime is Regime.STORM:
        return credit_spread
    if iv_rank < LOW_RANK:
        return long_option
    if iv_rank > HIGH_RANK or regime is Regime.CALM:
        return StructureKind.IRON_CONDOR
    return credit_spread
