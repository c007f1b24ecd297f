"""The shares an exercise or assignment brings, at the fake Alpaca: owed from the booking of the
activity (persisted, so a restart keeps them), closed when they are in the account and only
they (`DELETE /v2/positions/SPY?qty=...`), never the account's other shares."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from core.sizing import collar_price
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OptionContract, OptionEvent, OptionEventKind, OrderRequest, OrderStatus, Side
from tests.alpaca_helpers import intent, paper_runtime, rt_rows
from tests.fake_alpaca import FakeAlpacaServer
from worker.book.option_events import owed_shares
from worker.book.reconcile import Reconciler
from worker.runtime import Runtime


def _share_closes(server: FakeAlpacaServer) -> list[dict[str, str]]:
    return [q for method, path, q in server.state.queries if (method, path) == ("DELETE", "/v2/positions/SPY")]


def _open_condor(rt: Runtime, server: FakeAlpacaServer) -> Structure:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=5.0))
    condor = built.structure
    assert condor is not None
    natural = sum(leg.ratio * server.state.quote(leg.contract.symbol)[1 if leg.ratio > 0 else 0] for leg in condor.legs)
    request = order_for("ic-open", condor, 1, True, "limit", round(natural, 2))
    placed = rt.cycle.desk.place(request, "test_entry", server.state.now, intent=replace(intent(), structure=condor))
    assert placed.update is not None and placed.update.status is OrderStatus.FILLED
    return condor


def _buy_single(rt: Runtime, server: FakeAlpacaServer, call: bool) -> OptionContract:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    i = min(
        (i for i in range(len(chain.strikes)) if bool(chain.is_call[i]) == call),
        key=lambda i: abs(chain.strikes[i] - chain.spot),
    )
    contract = chain.quote(i).contract
    ask = server.state.quote(contract.symbol)[1]
    request = OrderRequest(str(uuid.uuid4()), contract, Side.BUY, 1, True, "limit", collar_price(ask, True, 3.0))
    rt.cycle.desk.place(request, "test_entry", server.state.now, intent=intent())
    return contract


@pytest.mark.parametrize(
    ("kind", "right", "qty", "shares"),
    [
        (OptionEventKind.ASSIGNMENT, "C", 2, -200),  # a short call assigned: the shares are delivered
        (OptionEventKind.ASSIGNMENT, "P", 2, 200),  # a short put assigned: the shares are bought
        (OptionEventKind.EXERCISE, "C", -2, 200),  # a long call exercised: bought at the strike
        (OptionEventKind.EXERCISE, "P", -2, -200),  # a long put exercised: sold at the strike
    ],
)
def test_the_shares_owed_are_signed_by_the_event(kind: OptionEventKind, right: str, qty: int, shares: int) -> None:
    contract = OptionContract.from_symbol(f"SPY251124{right}00600000")
    assert owed_shares(OptionEvent("a1", kind, contract, qty, date(2025, 11, 24))) == shares


@pytest.mark.parametrize(
    ("held", "kind", "shares"),
    [
        ("long_call", "OPEXC", 100),
        ("long_put", "OPEXC", -100),
        ("short_call", "OPASN", -100),
        ("short_put", "OPASN", 100),
    ],
)
def test_only_the_shares_an_event_brings_are_closed_with_their_quantity(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch, held: str, kind: str, shares: int
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    if held.startswith("long"):
        contract = _buy_single(rt, server, call=held == "long_call")
        server.state.option_activity(contract.symbol, kind)
    else:
        condor = _open_condor(rt, server)
        right = "C" if held == "short_call" else "P"
        for leg in condor.legs:
            assigned = leg.ratio < 0 and leg.contract.right.value == right
            server.state.option_activity(leg.contract.symbol, kind if assigned else "OPEXP")
    assert server.state.stocks == {"SPY": [shares, pytest.approx(server.state.stocks["SPY"][1])]}
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems
    assert "SPY" not in server.state.stocks, "closed at market"
    assert [q.get("qty") for q in _share_closes(server)] == ["100"], "with their quantity, once"
    messages = [str(m[0]) for m in rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares'")]
    assert len(messages) == 1 and "exercised_shares flatten: 100 SPY shares closed at market" in messages[0]
    assert rt_rows(rt, "SELECT shares, status FROM owedshares") == [(shares, "closed")]


def test_late_assignment_shares_are_owed_across_a_restart_and_only_they_are_sold(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.state.add_stock("SPY", 50, 600.0, open_order=False)  # the operator's own shares
    rt = paper_runtime(server, db_url, monkeypatch)
    condor = _open_condor(rt, server)
    assert Reconciler(rt.cycle).run(server.state.now).clean  # a pass while held, as every few minutes
    for leg in condor.legs:  # the short put assigned; its shares reach the positions a poll later
        assigned = leg.ratio < 0 and leg.contract.right.value == "P"
        server.state.option_activity(leg.contract.symbol, "OPASN" if assigned else "OPEXP", shares_later=True)
    report = Reconciler(rt.cycle).run(server.state.now)
    assert report.clean, report.problems
    assert server.state.stocks["SPY"][0] == 50 and _share_closes(server) == [], "nothing sold: none arrived"
    said = [str(m[0]) for m in rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares'")]
    assert len(said) == 1 and "100 shares of SPY expected" in said[0] and "not yet in the account" in said[0]
    assert any(h.startswith("SPY: +100 shares expected") for h in report.other_holdings)
    assert rt_rows(rt, "SELECT shares, baseline, status FROM owedshares") == [(100, 50, "owed")]

    restarted = paper_runtime(server, db_url, monkeypatch)  # a new process: the owed shares are in the database
    assert Reconciler(restarted.cycle).run(server.state.now).clean
    assert _share_closes(server) == [] and len(rt_rows(rt, "SELECT id FROM event WHERE code = 'option_shares'")) == 1
    server.state.deliver_shares()
    assert server.state.stocks["SPY"][0] == 150
    assert Reconciler(restarted.cycle).run(server.state.now).clean
    assert server.state.stocks["SPY"][0] == 50, "the operator's 50 shares are left"
    assert [q.get("qty") for q in _share_closes(server)] == ["100"], "only the 100 assigned are sold"
    said = [str(m[0]) for m in rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares' ORDER BY id")]
    assert len(said) == 2 and "exercised_shares flatten: 100 SPY shares closed at market" in said[1]
    assert rt_rows(rt, "SELECT status FROM owedshares") == [("closed",)]
    assert Reconciler(restarted.cycle).run(server.state.now).clean
    assert len(_share_closes(server)) == 1, "closed once"


def test_shares_are_reported_not_sold_when_the_parameter_says_report(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from db.control import save_param_version

    server.state.add_stock("SPY", 50, 600.0, open_order=False)
    rt = paper_runtime(server, db_url, monkeypatch)
    save_param_version(rt.engine, {"exercised_shares": "report"}, author="test")
    contract = _buy_single(rt, server, call=True)
    server.state.option_activity(contract.symbol, "OPEXC", shares_later=True)
    assert Reconciler(rt.cycle).run(server.state.now).clean
    server.state.deliver_shares()
    assert Reconciler(rt.cycle).run(server.state.now).clean
    assert server.state.stocks["SPY"][0] == 150 and _share_closes(server) == []
    said = [str(m[0]) for m in rt_rows(rt, "SELECT message FROM event WHERE code = 'option_shares' ORDER BY id")]
    assert len(said) == 2 and "not yet in the account" in said[0]
    assert "100 shares of SPY arrived" in said[1] and "flatten them in the account" in said[1]
    assert rt_rows(rt, "SELECT status FROM owedshares") == [("reported",)]
