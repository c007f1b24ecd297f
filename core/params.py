"""The one validated parameter model: every safeguard, exit, sizing and schedule knob.

The defaults are what practitioners of 0DTE options buying recommend after a losing first
month. Each field carries its group, unit and a one-sentence help so the console can render
an editor from the schema alone. An invalid edit raises `ParamsError` naming the field and
the rule it broke; the caller stores nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.alerts import ALL_KINDS, AlertKind
from core.execution import BROKER_CUTOFF_BEFORE_CLOSE_MIN
from core.types import ExercisedShares, ModelMismatch, PolicyMode, Regime, Strategy

GROUPS: tuple[str, ...] = (
    "policy", "entries", "safeguards", "risk", "sizing", "exits", "schedule", "regime", "alerts", "go_live"
)  # fmt: skip


def _f(default: Any, group: str, unit: str, help_text: str, **rules: Any) -> Any:
    """A Field with the console metadata (group, unit) kept in the JSON schema."""
    return Field(default, description=help_text, json_schema_extra={"group": group, "unit": unit}, **rules)


class TradingParams(BaseModel):
    """All tunable parameters. Frozen: a change is a new version, never an in-place edit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # policy
    policy_mode: PolicyMode = _f(
        PolicyMode.RL,
        "policy",
        "choice",
        "Who decides: rl (the model), rules (the baseline), or both (entries and closes only when they agree).",
    )
    on_model_mismatch: ModelMismatch = _f(
        ModelMismatch.REFUSE,
        "policy",
        "choice",
        "At worker start, if the model does not fit the feature pipeline: run on rules, or refuse to start.",
    )
    strategy: Strategy = _f(
        Strategy.LONG_OPTION,
        "policy",
        "choice",
        "What an entry opens: the long option in the policy's direction, a credit structure (put or call credit "
        "spread, iron condor, iron butterfly), or auto (by regime and IV rank; the README's table).",
    )
    # entries
    min_confidence: float = _f(
        0.75, "entries", "probability", "Minimum policy confidence (after masking) to open a position.", ge=0.25, le=1.0
    )
    target_delta: float = _f(
        0.40,
        "entries",
        "delta",
        "Absolute delta of the contract to buy; the closest strike is chosen.",
        ge=0.05,
        le=0.95,
    )
    short_delta: float = _f(
        0.20, "entries", "delta", "Absolute delta of a credit structure's short strikes.", ge=0.05, le=0.50
    )
    wing_width: float = _f(
        5.0, "entries", "$ of strike", "Distance from a short strike to its long wing.", ge=1.0, le=25.0
    )
    order_collar_pct: float = _f(
        3.0,
        "entries",
        "% of the quote",
        "Orders are limits this far through the quote (buys above the ask, sells below the bid), on the cent grid.",
        ge=0.0,
        le=25.0,
    )
    entry_cancel_after_cycles: int = _f(
        1,
        "entries",
        "cycles",
        "An entry order still working after this many cycles is cancelled (a partial fill stays a trade).",
        ge=1,
        le=30,
    )
    policy_exit_min_confidence: float = _f(
        0.60, "entries", "probability", "Minimum confidence for the policy's own close signal to exit.", ge=0.25, le=1.0
    )
    # safeguards
    max_bar_age_s: int = _f(
        90, "safeguards", "seconds", "Entries are blocked when the newest closed bar is older than this.", ge=30, le=900
    )
    max_quote_age_s: int = _f(
        60,
        "safeguards",
        "seconds",
        "Entries are blocked when the chosen option quote's own timestamp is older than this (delayed feeds).",
        ge=1,
        le=900,
    )
    max_bar_jump_pct: float = _f(
        5.0,
        "safeguards",
        "%",
        "A one-minute move larger than this is treated as bad data and blocks entries.",
        gt=0.0,
        le=50.0,
    )
    daily_loss_limit_pct: float = _f(
        -15.0,
        "safeguards",
        "% of start-of-day equity",
        "At this loss for the day entries stop (state REDUCING) until the next session.",
        ge=-100.0,
        lt=0.0,
    )
    max_drawdown_pct: float = _f(
        -30.0,
        "safeguards",
        "% from equity peak",
        "At this drawdown from the equity peak trading halts and flattens.",
        ge=-100.0,
        lt=0.0,
    )
    vix_ceiling: float = _f(35.0, "safeguards", "VIX points", "No entries while VIX is above this.", gt=5.0, le=150.0)
    iv_rank_min: float = _f(
        0.0, "safeguards", "percentile", "No entries while VIX's 1-year rank is below this.", ge=0.0, le=100.0
    )
    iv_rank_max: float = _f(
        95.0, "safeguards", "percentile", "No entries while VIX's 1-year rank is above this.", ge=0.0, le=100.0
    )
    max_trades_per_symbol_day: int = _f(
        5, "safeguards", "trades", "Most entries per underlying per session.", ge=0, le=100
    )
    cooldown_s: int = _f(
        120,
        "safeguards",
        "seconds",
        "Wait this long after an exit before entering the same underlying again.",
        ge=0,
        le=7200,
    )
    broker_refusals_before_reducing: int = _f(
        3,
        "safeguards",
        "refusals",
        "The broker refusing the same entry (the same structure on the same underlying, whatever its strikes, "
        "with the same message) this many times in a row sets REDUCING and alerts, naming the broker's message.",
        ge=1,
        le=50,
    )
    max_open_positions: int = _f(
        2, "safeguards", "positions", "Most positions open at once across all underlyings.", ge=0, le=20
    )
    max_spread_pct: float = _f(
        10.0,
        "safeguards",
        "% of mid",
        "No entry when the chosen contract's bid/ask spread is wider than this.",
        gt=0.0,
        le=100.0,
    )
    blocked_regimes: tuple[Regime, ...] = _f(
        (Regime.CRASH,), "safeguards", "regimes", "No entries while the regime is one of these."
    )
    # sizing
    risk_per_trade_pct: float = _f(
        3.0,
        "sizing",
        "% of equity",
        "Loss at the stop that one trade may risk; sets the contract count.",
        gt=0.0,
        le=20.0,
    )
    max_position_pct: float = _f(
        25.0, "sizing", "% of equity", "Most premium one position may cost, whatever the stop says.", gt=0.0, le=100.0
    )
    stop_slippage_pct: float = _f(
        10.0,
        "sizing",
        "% of entry premium",
        "Loss beyond the stop allowed for when sizing: stop exits fill below the stop price.",
        ge=0.0,
        le=100.0,
    )
    max_contracts: int = _f(50, "sizing", "contracts", "Hard cap on contracts per order.", ge=1, le=1000)
    # exits
    stop_loss_pct: float = _f(
        -15.0, "exits", "% of entry premium", "Close when the bid is this far below the entry fill.", ge=-100.0, lt=0.0
    )
    take_profit_base_pct: float = _f(
        30.0, "exits", "% of entry premium", "Take-profit before scaling by ATR, VIX and trend.", gt=0.0, le=500.0
    )
    take_profit_min_pct: float = _f(
        15.0, "exits", "% of entry premium", "Lowest dynamic take-profit.", gt=0.0, le=500.0
    )
    take_profit_max_pct: float = _f(
        80.0, "exits", "% of entry premium", "Highest dynamic take-profit.", gt=0.0, le=1000.0
    )
    trailing_arm_pct: float = _f(
        10.0, "exits", "% of entry premium", "The trailing stop arms once the gain reaches this.", gt=0.0, le=500.0
    )
    trailing_distance_pct: float = _f(
        8.0,
        "exits",
        "% of peak premium",
        "Once armed, close when the bid falls this far below its peak.",
        gt=0.0,
        le=100.0,
    )
    partial1_gain_pct: float = _f(
        20.0, "exits", "% of entry premium", "Gain at which the first partial take-profit sells.", gt=0.0, le=500.0
    )
    partial1_fraction_pct: float = _f(
        25.0, "exits", "% of entry quantity", "Share of the entry quantity sold at the first partial.", ge=0.0, le=100.0
    )
    partial2_gain_pct: float = _f(
        40.0, "exits", "% of entry premium", "Gain at which the second partial take-profit sells.", gt=0.0, le=500.0
    )
    partial2_fraction_pct: float = _f(
        50.0,
        "exits",
        "% of entry quantity",
        "Share of the entry quantity sold at the second partial.",
        ge=0.0,
        le=100.0,
    )
    max_hold_min: int = _f(120, "exits", "minutes", "Close a position held this long.", ge=1, le=390)
    exercised_shares: ExercisedShares = _f(
        ExercisedShares.FLATTEN,
        "exits",
        "choice",
        "Shares an exercise or assignment leaves in the account: flatten them at market at once, or report them only.",
    )
    credit_take_profit_pct: float = _f(
        50.0,
        "exits",
        "% of the credit",
        "Close a credit structure once this much of its credit is made.",
        gt=0.0,
        le=100.0,
    )
    credit_stop_multiple: float = _f(
        2.0,
        "exits",
        "x the credit",
        "Close a credit structure once it has lost this multiple of its credit (0: off).",
        ge=0.0,
        le=20.0,
    )
    structure_stop_loss_usd: float = _f(
        0.0,
        "exits",
        "$ a structure",
        "Close a structure once it has lost this much per structure (0: off).",
        ge=0.0,
        le=10_000.0,
    )
    min_hold_min: int = _f(
        5,
        "exits",
        "minutes",
        "No exit but a safeguard (stop-loss, end-of-day flatten, the stop, the drawdown halt) before a position "
        "has been held this long: no round trips that pay the spread twice in a minute or two.",
        ge=0,
        le=120,
    )
    urgent_exit_market_after_cycles: int = _f(
        2,
        "exits",
        "cycles",
        "Stop-loss, end-of-day and stop exits still unfilled this many cycles after the first try go at market.",
        ge=1,
        le=30,
    )
    # risk: the book's greeks and the shock grid with the entry included (core/risk/limits.py)
    max_book_delta_pct: float = _f(
        25.0,
        "risk",
        "% of equity per 1% move",
        "Block an entry that would take the book's net delta past this: what a 1% move of the underlying "
        "makes or loses, in % of equity (0: off).",
        ge=0.0,
        le=500.0,
    )
    max_book_gamma_pct: float = _f(
        60.0,
        "risk",
        "% of equity per 1% move",
        "Block an entry that would take the book's net gamma past this: how much a 1% move changes the book's "
        "delta, in % of equity per 1% (0: off).",
        ge=0.0,
        le=500.0,
    )
    max_shock_loss_pct: float = _f(
        12.0,
        "risk",
        "% of equity",
        "Block an entry that would make the worst loss of the shock grid (the underlying -2% to +2% over 5 to "
        "30 minutes) larger than this (0: off).",
        ge=0.0,
        le=100.0,
    )
    # go-live gate: what the paper record must show before --mode live starts (core/gate.py)
    gate_min_paper_sessions: int = _f(
        20, "go_live", "sessions", "Paper sessions traded with this strategy, parameters and model.", ge=1, le=1000
    )
    gate_min_paper_trades: int = _f(50, "go_live", "trades", "Closed paper trades in that record.", ge=1, le=100_000)
    gate_min_parity_pct: float = _f(
        95.0,
        "go_live",
        "% of decisions",
        "Share of the recorded days' decisions the simulator reproduces when it replays them (the parity report).",
        ge=0.0,
        le=100.0,
    )
    gate_min_parity_days: int = _f(
        5, "go_live", "days", "Recorded paper days replayed by the parity report, at least.", ge=1, le=1000
    )
    gate_max_parity_cost: float = _f(
        3.0,
        "go_live",
        "$ per contract",
        "Median fill cost of paper against the simulator on the same orders (positive: paper filled worse).",
        ge=0.0,
        le=100.0,
    )
    gate_max_drawdown_pct: float = _f(
        20.0, "go_live", "%", "Largest fall of paper equity from a running peak.", ge=0.1, le=100.0
    )
    gate_min_profit_factor: float = _f(
        1.5, "go_live", "ratio", "Gross paper gains over gross paper losses.", ge=0.0, le=100.0
    )
    gate_clean_sessions: int = _f(
        5,
        "go_live",
        "sessions",
        "No open incident (an unconfirmed stop, a reconciliation mismatch, repeated broker refusals) in the "
        "last sessions of the record.",
        ge=1,
        le=100,
    )
    # schedule
    entry_delay_min: int = _f(
        30, "schedule", "minutes after the open", "No entries in the first minutes of the session.", ge=0, le=240
    )
    entry_cutoff_before_close_min: int = _f(
        60,
        "schedule",
        "minutes before the close",
        "No entries this close to the close (15:00 ET on a normal day).",
        ge=BROKER_CUTOFF_BEFORE_CLOSE_MIN + 1,
        le=300,
    )
    flatten_before_close_min: int = _f(
        35,
        "schedule",
        "minutes before the close",
        "Close everything this close to the close (15:25 ET on a normal day), before the broker's 15:30 cutoff.",
        ge=BROKER_CUTOFF_BEFORE_CLOSE_MIN + 1,
        le=120,
    )
    # regime
    regime_calm_vix: float = _f(
        15.0, "regime", "VIX points", "VIX below this (with low realized volatility) is calm.", gt=0.0, le=100.0
    )
    regime_storm_vix: float = _f(25.0, "regime", "VIX points", "VIX above this is a storm.", gt=0.0, le=150.0)
    regime_crash_vix: float = _f(35.0, "regime", "VIX points", "VIX above this is a crash.", gt=0.0, le=200.0)
    regime_crash_rv: float = _f(
        60.0, "regime", "% annualised", "Realized volatility above this is a crash whatever VIX says.", gt=0.0, le=500.0
    )
    # alerts
    alert_events: tuple[AlertKind, ...] = _f(
        ALL_KINDS,
        "alerts",
        "events",
        "What is sent to the alert channels (python -m worker.alerts; channels from ALERT_URLS or ALERT_CONFIG).",
    )

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TradingParams:
        rules: list[tuple[bool, str, str]] = [
            (self.iv_rank_min < self.iv_rank_max, "iv_rank_min", "must be below iv_rank_max"),
            (
                self.take_profit_min_pct <= self.take_profit_max_pct,
                "take_profit_min_pct",
                "must not exceed take_profit_max_pct",
            ),
            (self.partial1_gain_pct < self.partial2_gain_pct, "partial1_gain_pct", "must be below partial2_gain_pct"),
            (
                self.partial1_fraction_pct + self.partial2_fraction_pct <= 100.0,
                "partial2_fraction_pct",
                "partial1_fraction_pct + partial2_fraction_pct must not exceed 100",
            ),
            (
                self.regime_calm_vix < self.regime_storm_vix < self.regime_crash_vix,
                "regime_storm_vix",
                "must lie between regime_calm_vix and regime_crash_vix",
            ),
            (
                self.entry_cutoff_before_close_min > self.flatten_before_close_min,
                "entry_cutoff_before_close_min",
                "must be larger than flatten_before_close_min (entries stop before the flatten)",
            ),
        ]
        for ok, field_name, rule in rules:
            if not ok:
                raise ValueError(f"{field_name}: {rule}")
        return self


@dataclass(frozen=True)
class FieldError:
    """One refused field: its name and the rule it broke, in words."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


class ParamsError(ValueError):
    """An edit that breaks one or more rules; nothing may be stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def validate_params(values: dict[str, Any], strict: bool = True) -> TradingParams:
    """Validate a full or partial set of values (missing fields take defaults).

    Strict by default, for values from outside (the console, an API, a file): a value of the
    wrong JSON type is refused, never coerced (`true` is no probability, `" 90 "` no count of
    seconds; a whole number is accepted where a decimal is asked). `strict=False` is for values
    this code stored itself."""
    try:
        if strict:
            return TradingParams.model_validate_json(json.dumps(values, default=_plain), strict=True)
        return TradingParams.model_validate(values)
    except ValidationError as exc:
        raise ParamsError([_field_error(err) for err in exc.errors()]) from None
    except (TypeError, ValueError) as exc:  # not representable as JSON at all
        raise ParamsError([FieldError("parameters", f"must be plain JSON values ({exc})")]) from None


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _field_error(err: Any) -> FieldError:
    loc = [str(p) for p in err.get("loc", ())]
    msg = str(err.get("msg", "invalid"))
    if not loc and msg.startswith("Value error, ") and ": " in msg:
        field_name, rule = msg.removeprefix("Value error, ").split(": ", 1)
        return FieldError(field_name, rule)
    if err.get("type") == "extra_forbidden":
        return FieldError(".".join(loc), "is not a known parameter")
    return FieldError(".".join(loc) or "parameters", msg[0].lower() + msg[1:] if msg else msg)


def params_to_json(params: TradingParams) -> dict[str, Any]:
    """JSON-ready values (enums as strings)."""
    return params.model_dump(mode="json")


def diff_params(old: TradingParams, new: TradingParams) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ: name -> (old, new)."""
    a, b = params_to_json(old), params_to_json(new)
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def field_catalog() -> list[dict[str, Any]]:
    """Every parameter with its group, unit, help and bounds, in declaration order."""
    schema = TradingParams.model_json_schema()["properties"]
    out = []
    for name, info in TradingParams.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        prop = schema[name]
        out.append(
            {
                "name": name,
                "group": extra.get("group", "entries"),
                "unit": extra.get("unit", ""),
                "help": info.description or "",
                "default": info.default,
                "minimum": prop.get("minimum", prop.get("exclusiveMinimum")),
                "maximum": prop.get("maximum", prop.get("exclusiveMaximum")),
                "options": _member_values(info.annotation),
            }
        )
    return out


def _member_values(annotation: Any) -> list[str] | None:
    """The choices of a tuple-of-enum field (tuple[Regime, ...] -> the regimes), else None."""
    args = [a for a in get_args(annotation) if a is not Ellipsis]
    if get_origin(annotation) is tuple and args and isinstance(args[0], type) and issubclass(args[0], StrEnum):
        return [m.value for m in args[0]]
    return None
