"""Issue 31: what the worker refuses to send, and how the broker's refusals escalate.

A credit structure whose collar would carry its limit to a debit, or with a leg quoted too wide,
is blocked with a named reason and nothing is sent (the simulator, through the worker's cycle).
Refusals at the broker count by what was refused, the structure kind on its underlying, not by
the strikes that move each cycle; the first refusal of each kind and message alerts once (the fake
Alpaca, through real alpaca-py and the alert relay)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from core.alerts import Alert, AlertKind
from core.calendar import session_for
from core.error_band import scaled_surfaces
from core.options.chain import ChainSnapshot
from core.params import TradingParams
from core.structures.legs import LegChoice, build
from core.structures.orders import order_for
from core.structures.types import Structure, StructureKind
from core.types import OptionContract, OrderStatus, Quote, Reason
from tests.alpaca_helpers import buy, intent, paper_runtime
from tests.conftest import ACTIVE_PARAMS, EXITS_OFF, TEST_DAY, run_until_open_position, with_params
from tests.console_helpers import rows
from tests.fake_alpaca import FakeAlpacaServer
from worker.alerts.relay import AlertRelay
from worker.runtime import RunOptions, Runtime, build_runtime


def _run_minutes(rt: Runtime, first: int, last: int) -> None:
    session = session_for(TEST_DAY)
    assert session is not None
    for minute in range(first, last):
        rt.cycle.run(session.at(minute))
    rt.journal.flush()


def _blocks(url: str) -> dict[str, str]:
    """Each block code the decisions recorded, with one of its sentences."""
    return {str(code): str(why) for code, why in rows(url, "SELECT blocked_by, blocked_reason FROM decision")}


def test_a_credit_whose_collar_would_cross_to_a_debit_is_blocked_and_nothing_is_sent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sign.db'}"
    # a put spread one dollar wide at the money: a credit smaller than a 25% collar of its legs
    with_params(url, **ACTIVE_PARAMS, strategy="put_credit_spread", policy_mode="rules", short_delta=0.5,
                wing_width=1.0, order_collar_pct=25.0)  # fmt: skip
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="sign")
    # a day at the error band's high end: the legs dear against the dollar between them (at the
    # calibrated level of issue 32 the synthetic day's legs are cheap enough for the collar to fit)
    rt.cycle.market.surfaces = scaled_surfaces("high")
    _run_minutes(rt, 31, 91)
    blocks = _blocks(url)
    assert "limit_sign" in blocks, blocks
    assert "would pay a debit" in blocks["limit_sign"] and "put_credit_spread" in blocks["limit_sign"]
    assert rows(url, "SELECT count(*) FROM orders") == [(0,)], "nothing sent"
    assert rt.broker.positions() == []
    rt.engine.dispose()


def _wide_wings(chain: ChainSnapshot | None) -> ChainSnapshot | None:
    """The chain with every contract beyond 0.10 delta quoted ten cents wide (the wings)."""
    if chain is None:
        return None
    far = np.abs(chain.delta) < 0.10
    return replace(chain, ask=np.where(far, chain.bid + 0.10, chain.ask))


def test_a_wide_wing_blocks_the_condor_naming_the_leg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'wings.db'}"
    with_params(url, **ACTIVE_PARAMS, strategy="iron_condor", policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="wings")
    chain = rt.cycle.market.chain
    monkeypatch.setattr(rt.cycle.market, "chain", lambda *a, **k: _wide_wings(chain(*a, **k)))
    _run_minutes(rt, 31, 91)
    blocks = _blocks(url)
    assert "max_spread" in blocks, blocks
    assert "iron_condor" in blocks["max_spread"] and "the long leg" in blocks["max_spread"]
    assert rows(url, "SELECT count(*) FROM orders") == [(0,)], "nothing sent"
    rt.engine.dispose()


def test_a_close_whose_limit_would_take_a_credit_is_not_sent_until_it_may_go_at_market(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'close.db'}"
    with_params(url, **ACTIVE_PARAMS, **EXITS_OFF, strategy="put_credit_spread", policy_mode="rules")
    rt = build_runtime(RunOptions(db=url, seed=11), "worker", run_id="close")
    now = run_until_open_position(rt)
    pos = next(iter(rt.cycle.book.structures()))
    shorts = {leg.contract.symbol for leg in pos.structure.legs if leg.ratio < 0}
    quote = rt.cycle.market.quote

    def crossed(contract: OptionContract, at: datetime) -> Quote | None:
        """The wing bid above the short's ask: buying the spread back would be paid a credit."""
        q = quote(contract, at)
        if q is None:
            return None
        return replace(q, bid=0.04, ask=0.05) if contract.symbol in shorts else replace(q, bid=0.30, ask=0.31)

    monkeypatch.setattr(rt.cycle.market, "quote", crossed)
    said = rt.cycle.close_now(pos.structure.underlying, Reason("operator_close", "test"), now, TradingParams())
    assert "next cycle" in said, said
    rt.journal.flush()
    events = rows(url, "SELECT message FROM event WHERE code = 'limit_sign'")
    assert events and "would take a credit" in str(events[0][0]), events
    assert rows(url, "SELECT count(*) FROM orders WHERE opening = 0") == [(0,)], "no limit sent"
    minute = now
    while rt.cycle.book.open_count() and minute < now + timedelta(minutes=10):
        rt.cycle.run(minute)
        minute += timedelta(minutes=1)
    rt.journal.flush()
    assert rows(url, "SELECT DISTINCT order_type FROM orders WHERE opening = 0") == [("market",)], "urgent: at market"
    assert rt.cycle.book.open_count() == 0
    assert rows(url, "SELECT count(*) FROM event WHERE code = 'limit_sign'") == [(1,)], "said once, not every cycle"
    rt.engine.dispose()


def _condor(server: FakeAlpacaServer, width: float) -> Structure:
    chain = server.state.market.chain("SPY", server.state.now)
    assert chain is not None
    built = build(StructureKind.IRON_CONDOR, chain, LegChoice(short_delta=0.20, width=width))
    assert built.structure is not None
    return built.structure


def _refused_condor(rt: Runtime, server: FakeAlpacaServer, width: float, now: datetime) -> None:
    condor = _condor(server, width)
    request = order_for(f"ic-{width:g}", condor, 1, True, "market", None)
    placed = rt.cycle.desk.place(request, "test_entry", now, intent=replace(intent(), structure=condor))
    assert placed.update is not None and placed.update.status is OrderStatus.REJECTED


def _state(rt: Runtime) -> tuple[str, str | None, str | None]:
    with rt.engine.connect() as conn:
        row = conn.execute(text("SELECT state, reason_code, reason FROM controlstate")).one()
    return str(row[0]), row[1], row[2]


def test_condors_refused_with_moving_strikes_escalate_at_the_limit(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    rt.cycle.desk.review(server.state.now, TradingParams(broker_refusals_before_reducing=3))
    server.state.options_level = 2  # Alpaca's 403 for every multi-leg order
    for n, width in enumerate((3.0, 4.0, 5.0), start=1):  # other wings each time: other first legs
        _refused_condor(rt, server, width, server.state.now)
        assert _state(rt)[0] == ("REDUCING" if n == 3 else "ACTIVE"), f"after {n} refusals"
    _, code, reason = _state(rt)
    assert code == "broker_refusals" and "iron_condor SPY" in str(reason) and "level 3" in str(reason)


def test_the_first_refusal_of_each_kind_and_message_alerts_once(
    server: FakeAlpacaServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = paper_runtime(server, db_url, monkeypatch)
    rt.cycle.desk.review(server.state.now, TradingParams(broker_refusals_before_reducing=10))
    sent: list[Alert] = []
    relay = AlertRelay(rt.engine, lambda alert: sent.append(alert) or True)
    server.state.options_level = 2
    server.state.refuse_opening = "insufficient options buying power"
    for width in (3.0, 4.0, 5.0):
        _refused_condor(rt, server, width, server.state.now)
        placed = rt.cycle.desk.place(buy(server, f"call-{width:g}", qty=int(width)), "test_entry", server.state.now,
                                     intent=intent())  # fmt: skip
        assert placed.update is not None and placed.update.status is OrderStatus.REJECTED
    rt.journal.flush()
    relay.poll()
    told = [a for a in sent if "refused" in a.body]
    assert len(told) == 2, [a.body for a in sent]
    assert {a.kind for a in told} == {AlertKind.WORKER_ERROR}
    condor, call = sorted(told, key=lambda a: "iron_condor" not in a.body)
    assert "iron_condor SPY" in condor.body and "level 3" in condor.body
    assert "long_call SPY" in call.body and "buying power" in call.body
    assert rows(db_url, "SELECT count(*) FROM event WHERE code = 'broker_refused'") == [(6,)], "each one recorded"
    assert _state(rt)[0] == "ACTIVE"
