"""The stop on an iron condor at the fake Alpaca (real alpaca-py clients): the legs still held go
out as one `mleg` market order, shorts bought back first in it, a long wing nobody bids for is
left at no risk, and the halt is confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from core.market.sim_market import SimMarket
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OptionContract, OrderStatus, Quote, TradingState
from db.control import set_trading_state
from tests.alpaca_helpers import fake_alpaca, intent, paper_runtime, rt_rows
from tests.fake_alpaca import FakeAlpacaServer
from worker.runtime import Runtime


class WingBidMarket(SimMarket):
    """The fake's market with the bids in `bids` on those contracts: 0 (nobody bids for a 0DTE
    wing, as on the seeded day) or a bid someone makes."""

    bids: dict[str, float]

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        q = super().quote(contract, now)
        if q is None or contract.symbol not in self.bids:
            return q
        bid = self.bids[contract.symbol]
        return replace(q, bid=bid, ask=max(q.ask, round(bid + 0.01, 2)))


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    with fake_alpaca(cash=100_000.0) as srv:
        yield srv


def _open_condor(server: FakeAlpacaServer, rt: Runtime) -> Structure:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    condor = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0)).structure
    assert condor is not None
    request = order_for("ic-open", condor, 2, True, "market", None)
    placed = rt.cycle.desk.place(request, "test_entry", server.state.now, intent=replace(intent(), structure=condor))
    assert placed.update is not None and placed.update.status is OrderStatus.FILLED
    return condor


@pytest.mark.parametrize("wings_bid", [True, False], ids=["wings-bid", "no-bid-wings"])
def test_the_stop_closes_a_condor_as_one_mleg_order_at_alpaca(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, wings_bid: bool
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    condor = _open_condor(server, rt)
    wings = {leg.contract.symbol for leg in condor.legs if leg.ratio > 0}
    shorts = [leg.contract.symbol for leg in condor.legs if leg.ratio < 0]
    market = server.state.market
    market.__class__ = WingBidMarket
    market.bids = dict.fromkeys(wings, 0.03 if wings_bid else 0.0)  # type: ignore[attr-defined]
    server.state.advance()
    submitted = len(server.state.submitted)
    set_trading_state(rt.engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    summary = rt.control.tick(server.state.now) or rt.control.tick(server.state.now)
    assert summary is not None, "the halt is confirmed"
    sent = server.state.submitted[submitted:]
    assert len(sent) == 1 and sent[0]["order_class"] == "mleg" and sent[0]["type"] == "market"
    legs = [(leg["symbol"], leg["side"], leg["position_intent"]) for leg in sent[0]["legs"]]
    closed_wings = sorted(wings) if wings_bid else []
    assert legs[:2] == [(s, "buy", "buy_to_close") for s in shorts], "the shorts first"
    assert sorted(legs[2:]) == [(s, "sell", "sell_to_close") for s in closed_wings]
    left = {symbol: qty for symbol, (qty, _avg) in server.state.positions.items()}
    if wings_bid:
        assert left == {} and "0 positions left at the broker" in summary
        assert rt_rows(rt, "SELECT status, exit_reason_code FROM trade") == [("closed", "emergency_stop")]
    else:
        assert left == dict.fromkeys(wings, 2), "only the long wings, at no risk"
        assert "Left at no risk" in summary and all(f"{s} x2 (long, no bid" in summary for s in wings)


def test_the_direct_stop_leaves_long_wings_nobody_bids_for_and_reports_flat(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m worker.flatten` (the console's stop while the worker is down): the shorts are
    bought back, a long wing with no bid is not sent to a sell that never fills but left at no
    risk and named, and the stop reports success."""
    from worker.book.flatten import flatten

    rt = paper_runtime(server, db_url, monkeypatch)
    condor = _open_condor(server, rt)
    wings = {leg.contract.symbol for leg in condor.legs if leg.ratio > 0}
    market = server.state.market
    market.__class__ = WingBidMarket
    market.bids = dict.fromkeys(wings, 0.0)  # type: ignore[attr-defined]
    server.state.advance()
    asked = len(server.state.requests)
    code, summary = flatten("paper", db_url, "alice")
    assert code == 0, summary
    left = {symbol: qty for symbol, (qty, _avg) in server.state.positions.items()}
    assert left == dict.fromkeys(wings, 2), "the shorts bought back, only the long wings left"
    closes = [path for method, path in server.state.requests[asked:] if method == "DELETE" and "/positions/" in path]
    assert len(closes) == 2 and not any(path.endswith(tuple(wings)) for path in closes), closes
    assert "Left at no risk" in summary and all(f"{s} x2 (long, no bid" in summary for s in wings), summary
