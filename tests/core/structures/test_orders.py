"""A structure's net limit keeps its sign and every leg's quote meets the spread rule (issue 31):
a credit is never sent at a debit, a debit never at a credit, and a wide wing is not crossed."""

from __future__ import annotations

from datetime import date, datetime

from core.calendar import NY
from core.params import TradingParams
from core.structures.legs import Built
from core.structures.orders import closing_limit, opening
from core.structures.types import Leg, Structure, StructureKind
from core.types import OptionContract, Quote, Right

DAY = date(2026, 2, 11)
NOW = datetime(2026, 2, 11, 11, 0, tzinfo=NY)


def _built(kind: StructureKind, legs: list[tuple[float, Right, int, float, float]]) -> Built:
    """A structure from (strike, right, ratio, bid, ask) rows, with those quotes."""
    quotes: dict[str, Quote] = {}
    chosen = []
    for strike, right, ratio, bid, ask in legs:
        contract = OptionContract("SPY", DAY, strike, right)
        quotes[contract.symbol] = Quote(contract, bid, ask, NOW)
        chosen.append(Leg(contract, ratio))
    return Built(Structure(kind, tuple(chosen)), quotes)


def _put_spread(short: tuple[float, float], wing: tuple[float, float]) -> Built:
    return _built(StructureKind.PUT_CREDIT_SPREAD, [(585.0, Right.PUT, 1, *wing), (590.0, Right.PUT, -1, *short)])


def test_a_credit_whose_collar_would_cross_to_a_debit_is_refused_with_a_named_reason() -> None:
    # a 0.15 credit at the mids, 0.05 at the natural prices; the 3% collar of the legs' 3.95 is 0.12
    built = _put_spread(short=(2.00, 2.10), wing=(1.85, 1.95))
    assert built.structure is not None and round(built.structure.open_price(built.quotes, "mid"), 2) == -0.15
    plan = opening(built, 100_000.0, TradingParams(), 0.65)
    assert plan.refused is not None and plan.refused.code == "limit_sign", plan
    assert "+0.07" in plan.refused.text and "would pay a debit" in plan.refused.text
    assert plan.qty == 0, "nothing to send"


def test_a_credit_with_room_for_its_collar_is_sent_at_a_credit() -> None:
    built = _put_spread(short=(2.00, 2.04), wing=(0.50, 0.52))
    plan = opening(built, 100_000.0, TradingParams(), 0.65)
    assert plan.refused is None and plan.qty > 0
    assert -1.48 < plan.limit <= -0.01, "through the natural credit, still a credit"


def test_a_wide_wing_refuses_the_entry_naming_the_leg_and_a_one_tick_wing_does_not() -> None:
    legs = [
        (580.0, Right.PUT, 1, 0.05, 0.15),  # the wing: 10 cents wide on a 0.10 mid
        (585.0, Right.PUT, -1, 0.80, 0.82),
        (600.0, Right.CALL, -1, 0.70, 0.72),
        (605.0, Right.CALL, 1, 0.00, 0.01),  # one tick: as narrow as a quote can be
    ]
    plan = opening(_built(StructureKind.IRON_CONDOR, legs), 100_000.0, TradingParams(), 0.65)
    assert plan.refused is not None and plan.refused.code == "max_spread", plan
    assert "SPY260211P00580000" in plan.refused.text and "long leg" in plan.refused.text
    legs[0] = (580.0, Right.PUT, 1, 0.09, 0.10)
    plan = opening(_built(StructureKind.IRON_CONDOR, legs), 100_000.0, TradingParams(), 0.65)
    assert plan.refused is None and plan.qty > 0 and plan.limit < 0


def test_closing_limits_keep_the_closing_sign() -> None:
    spread = _put_spread(short=(0.40, 0.42), wing=(0.10, 0.11))
    assert spread.structure is not None
    close = closing_limit(spread.structure, spread.quotes, TradingParams())
    assert close.refused is None and close.price > 0, "a credit structure is bought back at a debit"
    worthless = _built(StructureKind.LONG_CALL, [(610.0, Right.CALL, 1, 0.00, 0.05)])
    assert worthless.structure is not None
    sale = closing_limit(worthless.structure, worthless.quotes, TradingParams())
    assert sale.refused is not None and sale.refused.code == "limit_sign" and "would pay a debit" in sale.refused.text
