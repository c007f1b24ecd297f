"""`python -m worker.flatten --mode paper|live`: cancel every order and close every position at
Alpaca now (shorts first; a long option nobody bids for is left at no risk and named), read the
account back, and record the result as an event.

The console's stop runs this as its own process when the broker is real, so the stop works
while the worker is down (and the console never imports alpaca-py). An operator can run it
from a shell too. Exit status 0: flat; 1: positions are left; 2: the broker could not be used.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from core.types import BrokerPosition
from db.control import utcnow
from db.engine import make_engine
from db.journal import Journal
from worker.adapters.alpaca_broker import AlpacaBroker
from worker.adapters.alpaca_http import AlpacaSettings, make_clients
from worker.adapters.alpaca_market import AlpacaMarketData
from worker.book.stop_plan import NO_BID


def no_bid_longs(broker: AlpacaBroker, market: AlpacaMarketData, now: datetime) -> list[BrokerPosition]:
    """Long options on the traded underlyings that nobody bids for: worth 0 and unable to lose
    more (a long option's worst case is 0), while a market sell of them would never fill. A
    contract without a quote is not among them: it is closed like the rest."""
    out = []
    for p in broker.positions():
        if p.qty <= 0 or p.contract.underlying not in broker.underlyings:
            continue
        quote = market.quote(p.contract, now)
        if quote is not None and quote.bid <= 0:
            out.append(p)
    return out


def flatten(mode: str, db_url: str | None, operator: str) -> tuple[int, str]:
    """Cancel and close everything on the traded underlyings (shorts first) but the long options
    nobody bids for, which are left at no risk and named; exit 0 when nothing else is left."""
    journal = Journal(make_engine(db_url), "flatten")
    try:
        clients = make_clients(AlpacaSettings.from_env(mode))
        broker = AlpacaBroker(clients)
        now = utcnow()
        kept = no_bid_longs(broker, AlpacaMarketData(clients, broker.underlyings), now)
        orders = broker.close_all(now, keep=frozenset(p.contract.symbol for p in kept))
        held = {p.contract.symbol for p in kept}
        left = [p for p in broker.positions() if p.contract.symbol not in held]
    except Exception as exc:
        summary = f"Direct broker stop by {operator} failed: {type(exc).__name__}: {exc}"
        journal.event("error", "console_broker_stop", summary)
        return 2, summary
    failed = [
        f"{u.client_order_id.split(':', 1)[1]} ({u.reject_reason})"
        for u in orders
        if u.client_order_id.startswith("close-failed:")
    ]
    sent = len(orders) - len(failed)
    summary = (
        f"Direct broker stop by {operator}: {sent} orders cancelled or sent to close, "
        f"{len(left)} positions left at Alpaca ({mode})."
    )
    if kept:
        summary += " Left at no risk: " + ", ".join(f"{p.contract.symbol} x{p.qty} ({NO_BID})" for p in kept) + "."
    if failed:
        summary += " The broker failed to close: " + "; ".join(failed) + "."
    journal.event("warning" if not left else "error", "console_broker_stop", summary)
    return (0 if not left else 1), summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m worker.flatten", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", required=True, choices=["paper", "live"])
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL (default: DATABASE_URL or sqlite:///data/trading.db)"
    )
    parser.add_argument("--operator", default="operator")
    args = parser.parse_args(argv)
    code, summary = flatten(args.mode, args.db, args.operator)
    print(summary)
    sys.exit(code)


if __name__ == "__main__":
    main()
