"""Choosing a structure's legs from a same-day chain: short strikes by delta, wings by width.

One pass over the chain's arrays per leg (numpy), so an iron condor costs four argmins: the cycle
stays inside its latency budget (bench/structure_legs.py). A structure that cannot be built says
why with a named reason, as every blocked entry does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.options.chain import ChainSnapshot
from core.structures.types import Leg, Structure, StructureKind
from core.types import OptionContract, Quote, Reason, Right


@dataclass(frozen=True)
class LegChoice:
    """The legs' parameters: |delta| of the short strikes (or of the long option) and wing width."""

    short_delta: float = 0.20
    width: float = 5.0
    long_delta: float = 0.40


@dataclass(frozen=True)
class Built:
    """A structure with the quotes it was chosen from, or the reason none could be."""

    structure: Structure | None
    quotes: dict[str, Quote]
    refused: Reason | None = None


def _usable(chain: ChainSnapshot, call: bool) -> np.ndarray:
    return (chain.is_call == call) & (chain.bid >= 0.0) & (chain.ask > 0.0) & (chain.ask >= chain.bid)


def _by_delta(chain: ChainSnapshot, call: bool, target: float) -> int | None:
    usable = _usable(chain, call) & np.isfinite(chain.delta)
    if not usable.any():
        return None
    return int(np.argmin(np.where(usable, np.abs(np.abs(chain.delta) - target), np.inf)))


def _at_strike(chain: ChainSnapshot, call: bool, strike: float) -> int | None:
    hit = np.flatnonzero(_usable(chain, call) & (np.abs(chain.strikes - strike) < 1e-6))
    return int(hit[0]) if hit.size else None


def _at_the_money(chain: ChainSnapshot) -> float | None:
    """The strike nearest the spot listed with both a usable call and put."""
    calls = set(chain.strikes[_usable(chain, True)].tolist())
    both = [k for k in set(chain.strikes[_usable(chain, False)].tolist()) if k in calls]
    return min(both, key=lambda k: abs(k - chain.spot)) if both else None


def _refuse(code: str, text: str) -> Built:
    return Built(None, {}, Reason(code, text))


def build(kind: StructureKind, chain: ChainSnapshot, choice: LegChoice) -> Built:
    """The structure `kind` from `chain`, or a reason (`no_contract`, `no_wing`, `no_credit`)."""
    picks: list[tuple[int, int]] = []  # (chain index, ratio)
    if kind in (StructureKind.LONG_CALL, StructureKind.LONG_PUT):
        i = _by_delta(chain, kind is StructureKind.LONG_CALL, choice.long_delta)
        if i is None:
            return _refuse("no_contract", f"No {kind.value} contract with a quote in the chain.")
        picks.append((i, 1))
    elif kind is StructureKind.IRON_BUTTERFLY:
        k = _at_the_money(chain)
        if k is None:
            return _refuse("no_contract", "No strike with both a call and a put quoted for the butterfly's body.")
        wings = (_at_strike(chain, False, k - choice.width), _at_strike(chain, True, k + choice.width))
        body = (_at_strike(chain, False, k), _at_strike(chain, True, k))
        if None in wings:
            return _refuse("no_wing", f"No wing {choice.width:g} from the body {k:g} in the chain.")
        picks += [(wings[0], 1), (body[0], -1), (body[1], -1), (wings[1], 1)]  # type: ignore[list-item]
    else:
        sides = {
            StructureKind.PUT_CREDIT_SPREAD: (False,),
            StructureKind.CALL_CREDIT_SPREAD: (True,),
            StructureKind.IRON_CONDOR: (False, True),
        }[kind]
        for call in sides:
            short = _by_delta(chain, call, choice.short_delta)
            if short is None:
                return _refuse("no_contract", f"No {'call' if call else 'put'} to sell in the chain.")
            wing_strike = float(chain.strikes[short]) + (choice.width if call else -choice.width)
            wing = _at_strike(chain, call, wing_strike)
            if wing is None:
                return _refuse("no_wing", f"No wing at {wing_strike:g} ({choice.width:g} from the short strike).")
            picks += [(short, -1), (wing, 1)] if call else [(wing, 1), (short, -1)]
    quotes = {q.contract.symbol: q for q in (chain.quote(i) for i, _ in picks)}
    legs = tuple(Leg(_contract(chain, i), ratio) for i, ratio in picks)
    structure = Structure(kind, legs)
    if kind.is_credit and structure.open_price(quotes, "mid") >= 0.0:
        return _refuse("no_credit", f"{structure.label} takes no credit at the mids.")
    return Built(structure, quotes)


def _contract(chain: ChainSnapshot, i: int) -> OptionContract:
    right = Right.CALL if chain.is_call[i] else Right.PUT
    return OptionContract(chain.underlying, chain.expiry, float(chain.strikes[i]), right)
