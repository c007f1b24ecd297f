"""The demo preset: what `make run` starts a fresh database on, so a first run shows trades.

The shipped RL model's buy confidence stays under the default `min_confidence` (0.75), so on
the defaults a first run only holds. The preset changes two things, and says so: the rule
baseline decides (`policy_mode = rules`), and the daily cap on entries per symbol is raised to
DEMO_TRADES_PER_DAY, so that a demo at 60x keeps trading through each simulated session instead
of using the default 5 in its first ninety real seconds and going quiet for five minutes; every
other threshold keeps its default. It is a parameter
version of its own, authored "demo preset" with a note naming the policy and the thresholds,
and the console labels it and offers the RL model in one click. It is applied only to a
database whose only version is the bootstrap defaults and on which no cycle has run.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from core.params import TradingParams, params_to_json
from core.types import PolicyMode
from db.control import save_param_version
from db.models import Decision, ParamVersion

DEMO_AUTHOR = "demo preset"
DEMO_TRADES_PER_DAY = 40  # max_trades_per_symbol_day in the demo (the default is 5)


def demo_note(params: TradingParams) -> str:
    return (
        f"Demo preset: the rule baseline decides (policy_mode rules) so a first run trades, and "
        f"max_trades_per_symbol_day is {DEMO_TRADES_PER_DAY} (default {params.max_trades_per_symbol_day}) so a "
        f"demo keeps trading through each session; other thresholds are the defaults (min_confidence "
        f"{params.min_confidence}, max_spread_pct {params.max_spread_pct}). The RL model is one click away."
    )


def demo_values() -> dict[str, object]:
    """Every parameter of the demo preset: the defaults but for the rule baseline and the raised cap."""
    return {
        **params_to_json(TradingParams()),
        "policy_mode": PolicyMode.RULES.value,
        "max_trades_per_symbol_day": DEMO_TRADES_PER_DAY,
    }


def apply_demo_preset(engine: Engine) -> int | None:
    """Store and activate the demo preset on a fresh database; its version id, or None when the
    database is not fresh (an operator's choice is never overwritten)."""
    with Session(engine) as s:
        versions = s.exec(select(func.count()).select_from(ParamVersion)).one()[0]  # type: ignore[call-overload]
        decided = s.exec(select(Decision.id).limit(1)).first()  # type: ignore[call-overload]
    if versions != 1 or decided is not None:
        return None
    version = save_param_version(engine, demo_values(), author=DEMO_AUTHOR, note=demo_note(TradingParams()))
    return int(version.id or 0)
