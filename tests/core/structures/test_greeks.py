"""Greeks summed over a structure's legs: the signs a trader expects, and the sums equal to the
legs' own greeks taken one by one."""

from __future__ import annotations

from datetime import date

import pytest

from core.structures.greeks import structure_greeks, value_now
from core.structures.payoff import expiry_value
from core.structures.types import Leg, Structure, StructureKind
from core.types import OptionContract, Right

DAY = date(2026, 2, 11)


def leg(strike: float, right: str, ratio: int) -> Leg:
    return Leg(OptionContract("SPY", DAY, strike, Right(right)), ratio)


PUT_SPREAD = Structure(StructureKind.PUT_CREDIT_SPREAD, (leg(585, "P", 1), leg(590, "P", -1)))
CONDOR = Structure(
    StructureKind.IRON_CONDOR, (leg(580, "P", 1), leg(585, "P", -1), leg(605, "C", -1), leg(610, "C", 1))
)


def test_a_put_credit_spread_is_long_delta_short_vega_and_earns_theta() -> None:
    g = structure_greeks(PUT_SPREAD, qty=2, spot=592.0, vix=18.0, minutes_left=180.0)
    assert g.delta > 0 and g.vega < 0 and g.theta_10min > 0


def _alone(one: Leg) -> Structure:
    kind = StructureKind.LONG_CALL if one.contract.right is Right.CALL else StructureKind.LONG_PUT
    return Structure(kind, (Leg(one.contract, 1),))


def test_the_sums_are_the_legs_own_greeks() -> None:
    total = structure_greeks(CONDOR, qty=3, spot=595.0, vix=20.0, minutes_left=120.0)
    parts = [structure_greeks(_alone(leg), 3, 595.0, 20.0, 120.0) for leg in CONDOR.legs]
    for name in ("delta", "gamma", "theta_10min", "vega"):
        summed = sum(leg.ratio * getattr(p, name) for leg, p in zip(CONDOR.legs, parts, strict=True))
        assert getattr(total, name) == pytest.approx(summed, rel=1e-9, abs=1e-9), name
    assert abs(total.delta) < abs(parts[1].delta), "a condor centred on the spot is near delta-neutral"


def test_the_value_now_becomes_the_payoff_at_expiry() -> None:
    spots = [575.0, 583.0, 595.0, 607.0, 615.0]
    at_the_bell = value_now(CONDOR, spots, vix=18.0, minutes_left=0.0)
    assert at_the_bell == pytest.approx([expiry_value(CONDOR, s) for s in spots], abs=1e-6)
