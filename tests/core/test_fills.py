"""Fills never use a price the decision could not have seen, nor one from its own bar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from core.broker_sim import SimBroker
from core.calendar import session_for
from core.execution import BROKER_MODEL, INSTANT_MODEL
from core.market.bars import SessionBars
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.types import OptionContract, OrderRequest, Right, Side
from tests.conftest import ACTIVE_PARAMS, with_params
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

DAY = date(2026, 3, 3)


class _PatchedWorld:
    """A world whose bars from index `cut` on are replaced: what happens after `now` must not matter."""

    def __init__(self, world: SyntheticWorld, cut: int, other: SyntheticWorld) -> None:
        self.world, self.cut, self.other = world, cut, other
        self.symbols = world.symbols

    def session_bars(self, session, symbol) -> SessionBars:  # type: ignore[no-untyped-def]
        mine = self.world.session_bars(session, symbol)
        if session.day != DAY:  # earlier sessions are all known at `now` (the day's vol reads their moves)
            return mine
        theirs = self.other.session_bars(session, symbol)
        patched = mine.replace_after(self.cut, theirs)
        patched.open[self.cut] = mine.open[self.cut]  # the open at `now` is the live price
        return patched

    def vix_path(self, session):  # type: ignore[no-untyped-def]
        return self.world.vix_path(session)

    def vix_open(self, day):  # type: ignore[no-untyped-def]
        return self.world.vix_open(day)

    def vix_closes_before(self, day, count=252):  # type: ignore[no-untyped-def]
        return self.world.vix_closes_before(day, count)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    minute=st.integers(min_value=1, max_value=359),
    seed=st.integers(min_value=0, max_value=50),
    is_call=st.booleans(),
    offset=st.integers(min_value=-5, max_value=5),
    instant=st.booleans(),
)
def test_a_fill_never_depends_on_a_later_bar(minute: int, seed: int, is_call: bool, offset: int, instant: bool) -> None:
    """Instant model: the fill is the quote at submission (from the open at `now`); rewriting the
    bar that starts at `now` (all but its open) and every later bar changes nothing. Broker model:
    the order meets the quote after the latency, on the path through the bar starting at `now`;
    rewriting every later bar changes nothing."""
    session = session_for(DAY)
    assert session is not None
    now = session.at(minute)
    world = SyntheticWorld(seed)
    spot = float(world.session_bars(session, "SPY").open[minute])
    contract = OptionContract("SPY", DAY, round(spot) + offset, Right.CALL if is_call else Right.PUT)
    model = INSTANT_MODEL if instant else BROKER_MODEL
    cut = minute if instant else minute + 1
    fills = []
    for w in (world, _PatchedWorld(world, cut, SyntheticWorld(seed + 1000))):
        market = SimMarket(w)
        broker = SimBroker(market, cash=1e7, model=model)
        upd = broker.submit(OrderRequest("cid-1", contract, Side.BUY, 1, opening=True), now)
        assert upd.fills, upd.reject_reason
        fills.append(upd.fills[0])
        arrival = now + timedelta(seconds=model.latency_s)
        quote = market.quote_at(contract, arrival)
        assert quote is not None and upd.fills[0].price == quote.ask
    first, patched = fills
    assert first.quote_time == first.time == now + timedelta(seconds=model.latency_s)
    assert first.price == patched.price


def test_backtest_fills_use_the_quote_right_after_the_decision_bar(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fills.db'}"
    with_params(url, **ACTIVE_PARAMS)
    run_backtest(RunOptions(db=url, seed=3, flush_every=10), start=date(2026, 3, 2), end=date(2026, 3, 5))
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT d.time, d.bar_time, f.quote_time, f.time FROM decision d "
                "JOIN fill f ON f.client_order_id = d.order_client_id"
            )
        ).all()
    assert len(rows) > 5
    for decided, bar_time, quote_time, _fill_time in rows:
        decided, bar_time, quote_time = (
            datetime.fromisoformat(x).replace(tzinfo=UTC) for x in (decided, bar_time, quote_time)
        )
        fill_time = datetime.fromisoformat(_fill_time).replace(tzinfo=UTC)
        assert quote_time == fill_time, "a fill meets the quote of its own moment"
        assert quote_time >= decided + timedelta(seconds=BROKER_MODEL.latency_s), "never the quote it was priced from"
        assert quote_time >= bar_time + timedelta(minutes=1), "never against the bar the decision computed on"
        # unfilled entries are cancelled after one cycle, so an entry fills within two minutes
        assert quote_time < decided + timedelta(minutes=2)
