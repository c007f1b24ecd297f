"""Legs chosen from a same-day chain by delta and width, and the reasons a structure is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest

from core.calendar import NY
from core.options.chain import ChainSnapshot, build_chain
from core.structures.choice import auto_structure
from core.structures.legs import LegChoice, build
from core.structures.types import StructureKind
from core.types import Regime, Right

DAY = date(2026, 2, 11)


@pytest.fixture
def chain() -> ChainSnapshot:
    return build_chain("SPY", DAY, datetime(2026, 2, 11, 11, 0, tzinfo=NY), 590.3, 14.0, 300.0, strikes_each_side=20)


def test_an_iron_condor_sells_the_strikes_nearest_the_delta_and_buys_wings_a_width_away(chain: ChainSnapshot) -> None:
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0))
    assert built.refused is None and built.structure is not None
    legs = built.structure.legs
    assert [(leg.contract.right, leg.ratio) for leg in legs] == [
        (Right.PUT, 1), (Right.PUT, -1), (Right.CALL, -1), (Right.CALL, 1)
    ]  # fmt: skip
    for short, wing, is_call in ((legs[1], legs[0], False), (legs[2], legs[3], True)):
        side = chain.is_call == is_call
        best = np.min(np.abs(np.abs(chain.delta[side]) - 0.20))
        assert abs(abs(built.quotes[short.contract.symbol].delta) - 0.20) == pytest.approx(best)
        assert wing.contract.strike == short.contract.strike + (5.0 if is_call else -5.0)
    assert built.structure.open_price(built.quotes, "mid") < 0.0, "a credit"
    natural = built.structure.open_price(built.quotes, "natural")
    assert natural > built.structure.open_price(built.quotes, "mid"), "crossing every leg takes less credit"


def test_spreads_butterflies_and_long_options(chain: ChainSnapshot) -> None:
    puts = build(StructureKind.PUT_CREDIT_SPREAD, chain, LegChoice(0.25, 3.0)).structure
    assert puts is not None and [leg.contract.strike for leg in puts.legs][1] - puts.legs[0].contract.strike == 3.0
    fly = build(StructureKind.IRON_BUTTERFLY, chain, LegChoice(width=10.0)).structure
    assert fly is not None and fly.short_strikes == (590.0, 590.0), "the body at the money"
    call = build(StructureKind.LONG_CALL, chain, LegChoice(long_delta=0.40)).structure
    assert call is not None and len(call.legs) == 1 and call.legs[0].ratio == 1


def test_a_structure_that_cannot_be_built_says_why(chain: ChainSnapshot) -> None:
    too_wide = build(StructureKind.IRON_CONDOR, chain, LegChoice(width=60.0))
    assert too_wide.structure is None and too_wide.refused is not None and too_wide.refused.code == "no_wing"
    no_puts = replace(chain, bid=np.where(chain.is_call, chain.bid, -1.0))
    refused = build(StructureKind.PUT_CREDIT_SPREAD, no_puts, LegChoice()).refused
    assert refused is not None and refused.code == "no_contract"
    flat = replace(chain, bid=np.full_like(chain.bid, 0.10), ask=np.full_like(chain.ask, 0.12))
    no_credit = build(StructureKind.CALL_CREDIT_SPREAD, flat, LegChoice()).refused
    assert no_credit is not None and no_credit.code == "no_credit"


@pytest.mark.parametrize(
    ("regime", "rank", "direction", "expected"),
    [
        (Regime.CALM, 10.0, 1, StructureKind.LONG_CALL),
        (Regime.CALM, 50.0, -1, StructureKind.IRON_CONDOR),
        (Regime.NORMAL, 50.0, 1, StructureKind.PUT_CREDIT_SPREAD),
        (Regime.NORMAL, 50.0, -1, StructureKind.CALL_CREDIT_SPREAD),
        (Regime.NORMAL, 85.0, 1, StructureKind.IRON_CONDOR),
        (Regime.STORM, 10.0, -1, StructureKind.CALL_CREDIT_SPREAD),
        (Regime.CRASH, 50.0, 1, None),
    ],
)
def test_auto_chooses_by_regime_and_iv_rank(
    regime: Regime, rank: float, direction: int, expected: StructureKind | None
) -> None:
    assert auto_structure(regime, rank, direction) is expected
