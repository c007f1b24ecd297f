"""The structure types: legs with signed ratios, and the structure they make.

A leg's ratio is signed per structure unit: +1 bought to open, -1 sold to open. Prices follow
Alpaca's multi-leg convention: a net price is positive for a debit (paid) and negative for a
credit (received), per share (x100 per contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.types import OptionContract, OrderLeg, Quote, Right, Side


class StructureKind(StrEnum):
    """The structures the product trades, all on one underlying and one same-day expiry."""

    LONG_CALL = "long_call"
    LONG_PUT = "long_put"
    PUT_CREDIT_SPREAD = "put_credit_spread"  # short put, long put `width` below (bull put)
    CALL_CREDIT_SPREAD = "call_credit_spread"  # short call, long call `width` above (bear call)
    IRON_CONDOR = "iron_condor"  # a put credit spread and a call credit spread
    IRON_BUTTERFLY = "iron_butterfly"  # short put and call at one strike, long wings `width` away

    @property
    def is_credit(self) -> bool:
        return self not in (StructureKind.LONG_CALL, StructureKind.LONG_PUT)


@dataclass(frozen=True)
class Leg:
    """One contract of a structure, `ratio` contracts per structure unit (+ long, - short)."""

    contract: OptionContract
    ratio: int

    @property
    def opening_side(self) -> Side:
        return Side.BUY if self.ratio > 0 else Side.SELL

    @property
    def closing_side(self) -> Side:
        return Side.SELL if self.ratio > 0 else Side.BUY

    def intrinsic(self, spot: float) -> float:
        """The leg's value at expiry per share and per contract held (before the ratio)."""
        k = self.contract.strike
        return max(spot - k, 0.0) if self.contract.right is Right.CALL else max(k - spot, 0.0)


@dataclass(frozen=True)
class Structure:
    """Legs on one underlying and expiry, ordered as chosen (puts by strike, then calls)."""

    kind: StructureKind
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.legs) <= 4:
            raise ValueError(f"{self.kind}: a structure has 1 to 4 legs, not {len(self.legs)}")
        if len({(leg.contract.underlying, leg.contract.expiry) for leg in self.legs}) != 1:
            raise ValueError(f"{self.kind}: every leg must share one underlying and one expiry")
        if len({leg.contract.symbol for leg in self.legs}) != len(self.legs):
            raise ValueError(f"{self.kind}: a contract appears in two legs")

    @property
    def underlying(self) -> str:
        return self.legs[0].contract.underlying

    @property
    def expiry(self) -> date:
        return self.legs[0].contract.expiry

    @property
    def short_strikes(self) -> tuple[float, ...]:
        return tuple(leg.contract.strike for leg in self.legs if leg.ratio < 0)

    @property
    def label(self) -> str:
        """e.g. `iron_condor SPY 580/585p 600/605c`: what the console and the logs show."""
        puts = "/".join(f"{leg.contract.strike:g}" for leg in self.legs if leg.contract.right is Right.PUT)
        calls = "/".join(f"{leg.contract.strike:g}" for leg in self.legs if leg.contract.right is Right.CALL)
        parts = [p for p in (f"{puts}p" if puts else "", f"{calls}c" if calls else "") if p]
        return f"{self.kind.value} {self.underlying} {' '.join(parts)}"

    def open_price(self, quotes: dict[str, Quote], at: str = "natural") -> float:
        """Net price to open per share (debit +, credit -): `natural` buys at the ask and sells at
        the bid (what crossing every leg costs), `mid` at each leg's mid."""
        return sum(leg.ratio * _side_price(quotes[leg.contract.symbol], leg.ratio > 0, at) for leg in self.legs)

    def close_price(self, quotes: dict[str, Quote], at: str = "natural") -> float:
        """Net price to close per share (debit +, credit -): longs sold at the bid, shorts bought at the ask."""
        return sum(-leg.ratio * _side_price(quotes[leg.contract.symbol], leg.ratio < 0, at) for leg in self.legs)

    def leg_rows(self) -> list[dict[str, object]]:
        """The legs as stored on a trade row: [{"symbol", "ratio"}] (`from_rows` reads them back)."""
        return [{"symbol": leg.contract.symbol, "ratio": leg.ratio} for leg in self.legs]

    @staticmethod
    def from_rows(kind: str, rows: list[dict[str, object]]) -> Structure:
        """The structure a trade row stores: its kind and `leg_rows`."""
        legs = tuple(Leg(OptionContract.from_symbol(str(r["symbol"])), int(r["ratio"])) for r in rows)  # type: ignore[call-overload]
        return Structure(StructureKind(kind), legs)


def _side_price(quote: Quote, buying: bool, at: str) -> float:
    if at == "mid":
        return quote.mid
    if at != "natural":
        raise ValueError(f"price at {at!r}: natural or mid")
    return quote.ask if buying else quote.bid


def structure_of(legs: tuple[OrderLeg, ...]) -> Structure:
    """The structure an opening multi-leg order's legs make (after a restart, from the stored
    order): its kind read from the rights and the signed ratios."""
    signed = tuple(Leg(leg.contract, leg.sign * leg.ratio) for leg in legs)
    rights = {leg.contract.right for leg in signed}
    shorts = [leg for leg in signed if leg.ratio < 0]
    if len(signed) == 1:
        kind = StructureKind.LONG_CALL if signed[0].contract.right is Right.CALL else StructureKind.LONG_PUT
    elif len(rights) == 1:
        kind = StructureKind.PUT_CREDIT_SPREAD if Right.PUT in rights else StructureKind.CALL_CREDIT_SPREAD
    elif len({leg.contract.strike for leg in shorts}) == 1:
        kind = StructureKind.IRON_BUTTERFLY
    else:
        kind = StructureKind.IRON_CONDOR
    return Structure(kind, signed)
