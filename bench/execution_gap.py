"""The execution gap: the same policy on the same sessions under the instant fill model and the
broker-like one, side by side.

    .venv/bin/python bench/execution_gap.py [--sessions 60] [--csv ../shared/data] [--policy rules]
        [--loss-limits both|off|on]

For each world (synthetic, and the real bars in the CSV folder when it is there) and each
execution model it prints: trades, P&L, win rate, the fill slippage distribution (each fill
against the quote its order was priced from: buys above the ask, sells below the bid, per
contract and in % of premium), exit orders cancelled to be re-priced, orders that never filled,
broker liquidations, and the loss of each stop-loss exit in % of equity at entry (the sizing's
risk budget is `risk_per_trade_pct`). The parameters are the defaults with the policy's mode set,
run with the daily loss and drawdown limits off (every session trades under both models, so the
gap is the execution's alone) and on (as the worker trades: a model that loses faster stops
sooner, which the limits-on gap includes). `--loss-limits` picks one of the two.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calendar import last_sessions
from core.market.sim_market import SimMarket
from core.market.worlds import make_world
from core.params import TradingParams
from core.types import OptionContract
from db.control import bootstrap, save_param_version
from db.engine import make_engine
from db.migrate import upgrade
from worker.offline.backtest import BacktestResult, run_backtest
from worker.runtime import RunOptions

SYNTHETIC_END = date(2026, 3, 19)


@dataclass
class Gap:
    result: BacktestResult
    slippage: list[float]  # per contract, dollars of premium (positive: worse than the quote)
    slippage_pct: list[float]
    repriced_exits: int
    unfilled_orders: int
    liquidations: int
    stop_losses_pct_equity: list[float]
    trade_returns_pct: list[float]  # each closed trade's P&L in % of its entry premium: independent of equity


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def measure(source: str, start: date, end: date, execution: str, seed: int, policy_mode: str, loss_limits: bool) -> Gap:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/gap.db"
        upgrade(url)
        engine = make_engine(url)
        bootstrap(engine)
        values: dict[str, object] = {"policy_mode": policy_mode}
        if not loss_limits:  # so every session trades and the comparison covers all of them
            values.update(daily_loss_limit_pct=-100.0, max_drawdown_pct=-100.0)
        save_param_version(engine, values, author="bench")
        options = RunOptions(db=url, source=source, seed=seed, flush_every=60, model=None, execution=execution)
        result = run_backtest(options, start=start, end=end)
        return _read(url, source, seed, result)


def _read(url: str, source: str, seed: int, result: BacktestResult) -> Gap:
    market = SimMarket(make_world(source, seed))
    conn = create_engine(url).connect()
    fills = conn.execute(
        text(
            "SELECT o.created_at, o.contract, f.side, f.price FROM fill f JOIN orders o ON o.id = f.order_id "
            "WHERE o.client_order_id NOT LIKE 'liquidation-%' AND o.client_order_id NOT LIKE 'expiry-%' "
            "AND o.client_order_id NOT LIKE 'close-all-%'"
        )
    ).all()
    slippage, slippage_pct = [], []
    for created, contract, side, price in fills:
        quote = market.quote(OptionContract.from_symbol(contract), _utc(created))
        if quote is None:
            continue
        ref = quote.ask if side == "buy" else quote.bid
        worse = price - ref if side == "buy" else ref - price
        slippage.append(worse)
        if ref > 0:
            slippage_pct.append(worse / ref * 100.0)
    repriced = conn.execute(
        text(
            "SELECT count(*) FROM orders WHERE opening = 0 AND status = 'canceled' "
            "AND reason_code != 'broker_liquidation'"
        )
    ).scalar()
    unfilled = conn.execute(text("SELECT count(*) FROM orders WHERE filled_qty = 0 AND status != 'rejected'")).scalar()
    liquidations = conn.execute(
        text("SELECT count(*) FROM trade WHERE exit_reason_code = 'broker_liquidation'")
    ).scalar()
    stops = conn.execute(
        text(
            "SELECT t.realized_pnl, (SELECT e.equity FROM equity e WHERE e.time <= t.entry_time "
            "ORDER BY e.time DESC LIMIT 1) FROM trade t WHERE t.exit_reason_code = 'stop_loss'"
        )
    ).all()
    stop_pct = [pnl / eq * 100.0 for pnl, eq in stops if eq]
    premiums = conn.execute(
        text("SELECT realized_pnl, entry_avg * entry_qty * 100.0 FROM trade WHERE status = 'closed'")
    ).all()
    returns = [pnl / cost * 100.0 for pnl, cost in premiums if cost]
    conn.close()
    return Gap(
        result, slippage, slippage_pct, int(repriced or 0), int(unfilled or 0), int(liquidations or 0), stop_pct,
        returns,
    )  # fmt: skip


def _q(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def report(world: str, gaps: dict[str, Gap], risk_pct: float, limits: str) -> None:
    sessions = next(iter(gaps.values())).result.sessions
    gap = gaps["broker"].result.summary.total_pnl - gaps["instant"].result.summary.total_pnl
    mean = {k: statistics.mean(g.trade_returns_pct) if g.trade_returns_pct else 0.0 for k, g in gaps.items()}
    print(
        f"\n## {world}: {sessions} sessions, loss limits {limits}: broker-like minus instant P&L {gap:+,.0f}; "
        f"mean return per trade (% of premium, independent of the equity left) {mean['instant']:+.2f}% instant, "
        f"{mean['broker']:+.2f}% broker-like ({mean['broker'] - mean['instant']:+.2f} points)"
    )
    print(
        "| model | trades | P&L | win rate | slippage/contract median, p95 | slippage % median, p95 "
        "| exits re-priced | never filled | broker liquidations | stop-loss loss % equity median, p95, worst "
        f"| stops within {risk_pct}% |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, g in gaps.items():
        s = g.result.summary
        within = sum(1 for x in g.stop_losses_pct_equity if x >= -risk_pct)
        share = within / len(g.stop_losses_pct_equity) * 100 if g.stop_losses_pct_equity else float("nan")
        print(
            f"| {name} | {s.trades} | {s.total_pnl:,.0f} | {s.win_rate * 100:.1f}% "
            f"| {statistics.median(g.slippage) if g.slippage else 0:.3f}, {_q(g.slippage, 0.95):.3f} "
            f"| {statistics.median(g.slippage_pct) if g.slippage_pct else 0:.1f}%, {_q(g.slippage_pct, 0.95):.1f}% "
            f"| {g.repriced_exits} | {g.unfilled_orders} | {g.liquidations} "
            f"| {statistics.median(g.stop_losses_pct_equity) if g.stop_losses_pct_equity else 0:.2f}, "
            f"{_q(g.stop_losses_pct_equity, 0.05):.2f}, {min(g.stop_losses_pct_equity, default=0):.2f} "
            f"| {share:.0f}% of {len(g.stop_losses_pct_equity)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--csv", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--policy", default="rules", choices=["rules"], help="the policy both runs use")
    parser.add_argument(
        "--loss-limits",
        choices=["both", "off", "on"],
        default="both",
        help="the daily loss and drawdown limits: off (every session trades), on (as the worker), or both",
    )
    args = parser.parse_args()
    risk = TradingParams().risk_per_trade_pct
    sessions = last_sessions(SYNTHETIC_END, args.sessions)
    worlds = [("synthetic", "synthetic", sessions[0].day, sessions[-1].day)]
    if Path(args.csv).is_dir():
        real = make_world(f"csv:{args.csv}", args.seed).sessions()  # type: ignore[union-attr]
        picked = real[-args.sessions :]
        worlds.append((f"real bars ({args.csv})", f"csv:{args.csv}", picked[0].day, picked[-1].day))
    else:
        print(f"(no folder {args.csv}: the real-bars run is skipped)")
    settings = ["off", "on"] if args.loss_limits == "both" else [args.loss_limits]
    for label, source, start, end in worlds:
        for limits in settings:
            gaps = {
                m: measure(source, start, end, m, args.seed, args.policy, limits == "on") for m in ("instant", "broker")
            }
            report(label, gaps, risk, limits)


if __name__ == "__main__":
    main()
