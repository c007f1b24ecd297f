"""Structures' payoffs at expiry and buying power, against hand-computed figures."""

from __future__ import annotations

import math
from datetime import date

import pytest

from core.structures.payoff import buying_power, payoff, pnl_at_expiry
from core.structures.types import Leg, Structure, StructureKind
from core.types import OptionContract, Right

DAY = date(2026, 2, 11)


def leg(strike: float, right: str, ratio: int) -> Leg:
    return Leg(OptionContract("SPY", DAY, strike, Right(right)), ratio)


PUT_SPREAD = Structure(StructureKind.PUT_CREDIT_SPREAD, (leg(575, "P", 1), leg(580, "P", -1)))
CONDOR = Structure(
    StructureKind.IRON_CONDOR, (leg(575, "P", 1), leg(580, "P", -1), leg(600, "C", -1), leg(605, "C", 1))
)
BUTTERFLY = Structure(
    StructureKind.IRON_BUTTERFLY, (leg(585, "P", 1), leg(590, "P", -1), leg(590, "C", -1), leg(595, "C", 1))
)
LONG_CALL = Structure(StructureKind.LONG_CALL, (leg(590, "C", 1),))


def test_a_put_credit_spread_risks_its_width_less_the_credit() -> None:
    p = payoff(PUT_SPREAD, open_price=-1.00, qty=2)
    assert (p.max_loss, p.max_gain, p.breakevens) == (800.0, 200.0, (579.0,))
    assert pnl_at_expiry(PUT_SPREAD, -1.00, 570.0, 2) == -800.0 and pnl_at_expiry(PUT_SPREAD, -1.00, 590.0, 2) == 200.0
    assert buying_power(PUT_SPREAD, -1.00, 2) == 1000.0, "the width, premiums ignored"


def test_an_iron_condor_holds_one_wing_of_buying_power_and_has_two_breakevens() -> None:
    p = payoff(CONDOR, open_price=-2.00)
    assert (p.max_loss, p.max_gain, p.breakevens) == (300.0, 200.0, (578.0, 602.0))
    assert buying_power(CONDOR, -2.00) == 500.0, "only one side can lose at expiry"


def test_an_iron_butterfly_and_a_long_call() -> None:
    p = payoff(BUTTERFLY, open_price=-3.50)
    assert (p.max_loss, p.max_gain, p.breakevens) == (150.0, 350.0, (586.5, 593.5))
    call = payoff(LONG_CALL, open_price=2.50, qty=3)
    assert call.max_loss == 750.0 and math.isinf(call.max_gain) and call.breakevens == (592.5,)
    assert buying_power(LONG_CALL, 2.50, 3) == 750.0, "long options: the debit"


def test_a_structure_refuses_mixed_underlyings_repeated_contracts_and_five_legs() -> None:
    qqq = Leg(OptionContract("QQQ", DAY, 500, Right.PUT), -1)
    with pytest.raises(ValueError, match="one underlying"):
        Structure(StructureKind.PUT_CREDIT_SPREAD, (leg(575, "P", 1), qqq))
    with pytest.raises(ValueError, match="two legs"):
        Structure(StructureKind.PUT_CREDIT_SPREAD, (leg(575, "P", 1), leg(575, "P", -1)))
    with pytest.raises(ValueError, match="1 to 4 legs"):
        Structure(StructureKind.IRON_CONDOR, (*CONDOR.legs, leg(610, "C", 1)))
    assert CONDOR.label == "iron_condor SPY 575/580p 600/605c"
