"""The go-live gate's reads and the operator's override: the paper record from this database, and
the override's rows (who, why, size cap, expiry, how it ended), each with an event the alert relay
sends.

The record is the paper trading of the worker (runs of kind `worker` in mode `paper` whose
recorded trading host is Alpaca's paper endpoint: a paper run against a fake, a proxy or any other
host earns nothing) under the active parameter version and the model that would trade live: a
change of either starts a new record. Sessions are the days the paper worker decided on with those
versions. `judge` says what the gate does with versions that would trade live: the worker judges
every change of version or override while it trades live, and the console's Save judges the version
it is about to store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, text
from sqlmodel import Session, select

from core.gate import PAPER_TRADING_HOST, GateReport, PaperRecord, ParityDayFigure, evaluate_gate
from core.params import TradingParams
from core.policy.ensemble import policy_version
from core.policy.rules import RulePolicy
from core.types import PolicyMode
from db.control import EventNote, read_control, utcnow
from db.models import Decision, Equity, Event, LiveOverride, ParamVersion, ParityDay, Run, Trade, WorkerStatus

INCIDENT_CODES = ("stop_incomplete", "stop_failed", "reconcile_mismatch", "broker_refusals")
OVERRIDE_EVENT = "live_override"


class OverrideError(ValueError):
    """An override that cannot be granted: the field and the rule."""


def _paper_runs() -> object:
    return select(Run.id).where(Run.kind == "worker", Run.mode == "paper", Run.trading_host == PAPER_TRADING_HOST)


def active_params(engine: Engine) -> tuple[int, TradingParams]:
    with Session(engine) as s:
        version = read_control(s).param_version
        row = s.get(ParamVersion, version)
        return version, TradingParams.model_validate(row.values if row else {})


def paper_record(engine: Engine, param_version: int, model_version: str, params: TradingParams) -> PaperRecord:
    """The paper record earned by these versions (see the module's docstring)."""
    runs = _paper_runs()
    with Session(engine) as s:
        day = func.date(Decision.time)
        days = [
            str(d)
            for d in s.exec(
                select(day)
                .distinct()
                .where(Decision.run_id.in_(runs), Decision.param_version == param_version)  # type: ignore[attr-defined]
                .where(Decision.model_version == model_version)
                .order_by(day)
            ).all()
        ]
        trades = s.exec(
            select(Trade.exit_time, Trade.realized_pnl)
            .where(Trade.run_id.in_(runs), Trade.status == "closed", Trade.param_version == param_version)  # type: ignore[attr-defined]
            .where(Trade.model_version == model_version)
            .order_by(Trade.exit_time)  # type: ignore[arg-type]
        ).all()
        others = s.exec(
            select(Trade.param_version, Trade.model_version, func.count())
            .where(Trade.run_id.in_(runs))  # type: ignore[attr-defined]
            .group_by(Trade.param_version, Trade.model_version)
        ).all()
        first = days[0] if days else None
        equity = (
            [
                float(e)
                for e in s.exec(
                    select(Equity.equity)
                    .where(Equity.run_id.in_(runs), func.date(Equity.time) >= first)  # type: ignore[attr-defined]
                    .order_by(Equity.time)  # type: ignore[arg-type]
                ).all()
            ]
            if first
            else []
        )
        parity = [
            ParityDayFigure(p.day, p.decisions, p.agreeing, p.cost_median)
            for p in s.exec(select(ParityDay).where(ParityDay.day.in_(days))).all()  # type: ignore[attr-defined]
        ]
        recent = days[-params.gate_clean_sessions :]
        incidents = (
            [
                (e.time.date().isoformat(), e.code, e.message)
                for e in s.exec(
                    select(Event)
                    .where(Event.code.in_(INCIDENT_CODES), func.date(Event.time) >= recent[0])  # type: ignore[attr-defined]
                    .order_by(Event.time)  # type: ignore[arg-type]
                ).all()
            ]
            if recent
            else []
        )
    by_day: dict[str, float] = {d: 0.0 for d in days}
    for exit_time, pnl in trades:
        if exit_time is not None:
            key = exit_time.date().isoformat()
            by_day[key] = by_day.get(key, 0.0) + float(pnl)
    strategy = params.strategy.value
    return PaperRecord(
        strategy=strategy,
        param_version=param_version,
        model_version=model_version,
        sessions=days,
        trade_pnls=[float(p) for _, p in trades],
        session_pnls=[by_day[d] for d in days],
        equity=equity,
        parity=parity,
        incidents=incidents,
        other_versions=[
            f"parameter version {pv}, model {mv}: {n} trades"
            for pv, mv, n in others
            if (pv, mv) != (param_version, model_version)
        ],
    )


def gate_report(
    engine: Engine, model_version: str, version: tuple[int, TradingParams] | None = None
) -> tuple[GateReport, PaperRecord]:
    """The gate for `model_version` (the policy live trading would run) and a parameter version
    with its values: the active one unless `version` is given."""
    param_version, params = version or active_params(engine)
    record = paper_record(engine, param_version, model_version, params)
    return evaluate_gate(record, params), record


def next_param_version(engine: Engine) -> int:
    """The id the next saved parameter version will get (its record is empty: nothing ran on it)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(ParamVersion.id))).scalar() or 0) + 1


def current_model_version(engine: Engine) -> str | None:
    """The model the worker decided with last (the version on its newest decision)."""
    with Session(engine) as s:
        row = s.exec(
            select(Decision.model_version)
            .where(Decision.run_id.in_(select(Run.id).where(Run.kind == "worker")))  # type: ignore[attr-defined]
            .order_by(Decision.id.desc())  # type: ignore[union-attr]
            .limit(1)
        ).first()
        return None if row is None else str(row)


def live_policy_version(engine: Engine, mode: PolicyMode) -> str | None:
    """The policy version the worker in the status row would decide with under `mode` (the RL
    model its run loaded, beside the rules); None without a worker."""
    with Session(engine) as s:
        status = s.get(WorkerStatus, "worker")
        run = None if status is None else s.get(Run, status.run_id)
        if status is None:
            return None
        loaded = (run.args or {}).get("model_version") if run is not None else None
    return policy_version(mode, None if loaded is None else str(loaded), RulePolicy.version)


# ---- the override ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OverrideView:
    id: int
    created_at: datetime
    who: str
    reason: str
    size_cap: float
    sessions: int
    used_days: list[str]
    model_version: str
    param_version: int
    ended_at: datetime | None
    ended_reason: str | None

    @property
    def sessions_left(self) -> int:
        return max(0, self.sessions - len(self.used_days))


def _view(row: LiveOverride) -> OverrideView:
    assert row.id is not None
    return OverrideView(row.id, row.created_at, row.who, row.reason, row.size_cap, row.sessions,
                        list(row.used_days or []), row.model_version, row.param_version, row.ended_at,
                        row.ended_reason)  # fmt: skip


def grant_override(
    engine: Engine, *, who: str, reason: str, size_cap: float, sessions: int, model_version: str
) -> OverrideView:
    """Record an override (refused, storing nothing, when a field breaks its rule); the gate's
    verdict at that moment goes with it, and an event the alert relay sends."""
    if len(reason.strip()) < 10:
        raise OverrideError("reason: a typed reason of at least 10 characters is required")
    if not 0.0 < size_cap <= 0.5:
        raise OverrideError(f"size_cap: must be above 0 and at most 0.5 of the normal size, got {size_cap:g}")
    if not 1 <= sessions <= 20:
        raise OverrideError(f"sessions: must be 1 to 20 live sessions, got {sessions}")
    if not who.strip():
        raise OverrideError("who: the operator's name is required")
    report, record = gate_report(engine, model_version)
    version = record.param_version
    now = utcnow()
    with Session(engine) as s, s.begin():
        for old in s.exec(select(LiveOverride).where(LiveOverride.ended_at.is_(None))).all():  # type: ignore[union-attr]
            old.ended_at, old.ended_reason = now, "replaced"
            s.add(old)
        row = LiveOverride(created_at=now, who=who.strip(), reason=reason.strip(), size_cap=size_cap,
                           sessions=sessions, param_version=version, model_version=model_version,
                           gate_summary=report.summary(), used_days=[])  # fmt: skip
        s.add(row)
        s.add(Event(time=now, level="warning", code=OVERRIDE_EVENT,
                    message=f"Go-live override by {row.who}: {sessions} live sessions at {size_cap:.0%} of the size, "
                    f"model {model_version}, parameter version {version}. Reason: {row.reason}. "
                    f"Gate: {report.summary()}"))  # fmt: skip
        s.flush()
        return _view(row)


def active_override(engine: Engine) -> OverrideView | None:
    with Session(engine) as s:
        row = s.exec(
            select(LiveOverride).where(LiveOverride.ended_at.is_(None)).order_by(LiveOverride.id.desc())  # type: ignore[union-attr]
        ).first()
        return None if row is None else _view(row)


def overrides(engine: Engine, limit: int = 50) -> list[OverrideView]:
    """Every override, newest first (the audit)."""
    with Session(engine) as s:
        rows = s.exec(select(LiveOverride).order_by(LiveOverride.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
        return [_view(r) for r in rows]


def end_override(engine: Engine, override_id: int, reason: str, text: str, level: str = "warning") -> None:
    """Close the override with why (expired, gate_met, revoked), and an event the alert relay sends."""
    now = utcnow()
    with Session(engine) as s, s.begin():
        row = s.get(LiveOverride, override_id)
        if row is None or row.ended_at is not None:
            return
        row.ended_at, row.ended_reason = now, reason
        s.add(row)
        s.add(Event(time=now, level=level, code=OVERRIDE_EVENT, message=text))


def use_session(engine: Engine, override_id: int, day: str) -> OverrideView:
    """Count `day` as a live session traded on the override (once)."""
    with Session(engine) as s, s.begin():
        row = s.get(LiveOverride, override_id)
        assert row is not None
        if day not in (row.used_days or []):
            row.used_days = [*(row.used_days or []), day]
            s.add(row)
        s.flush()
        return _view(row)


_ACTIVE_OVERRIDE_ID = text(f"SELECT max(id) FROM {LiveOverride.__tablename__} WHERE ended_at IS NULL")


def active_override_id(engine: Engine) -> int | None:
    """The id of the override in force (None: none): one small read, made by every live cycle
    (plain SQL: a third of the ORM select's cost)."""
    with engine.connect() as conn:
        found = conn.execute(_ACTIVE_OVERRIDE_ID).scalar()
        return None if found is None else int(found)


@dataclass(frozen=True)
class LiveVerdict:
    """What the go-live gate does with versions that would trade live: the gate met, an override
    in force granted for exactly these versions, or neither (the worker may not open positions)."""

    report: GateReport
    record: PaperRecord
    override: OverrideView | None  # the override in force, whatever versions it was granted for

    @property
    def covering(self) -> OverrideView | None:
        """The override in force when it was granted for these versions."""
        ov = self.override
        versions = (self.record.model_version, self.record.param_version)
        return ov if ov is not None and (ov.model_version, ov.param_version) == versions else None

    @property
    def allowed(self) -> bool:
        return self.report.passed or self.covering is not None

    def summary(self) -> str:
        """The verdict in words: met, covered by override N, or not met and why."""
        if self.report.passed:
            return "the go-live gate is met"
        ov = self.covering
        if ov is not None:
            left = f"{ov.sessions_left} of {ov.sessions} sessions left at {ov.size_cap:.0%} of the size"
            return f"the go-live gate is not met; covered by override {ov.id} by {ov.who} ({left})"
        record = self.record
        other = self.override
        elsewhere = (
            f"; override {other.id} covers parameter version {other.param_version} with model {other.model_version}"
            if other is not None
            else ""
        )
        evidence = "has no paper record" if not record.sessions else "has a paper record that fails the gate"
        return (f"parameter version {record.param_version} with model {record.model_version} {evidence}: "
                f"{self.report.summary()}; no override covers it{elsewhere}")  # fmt: skip


def judge(engine: Engine, model_version: str, param_version: int, params: TradingParams) -> LiveVerdict:
    """The gate's verdict on `model_version` with `param_version` (values `params`) trading live."""
    report, record = gate_report(engine, model_version, (param_version, params))
    return LiveVerdict(report, record, active_override(engine))


def record_event(engine: Engine, note: EventNote) -> None:
    """An event on its own (the gate's refusal while the state already kept entries out)."""
    with Session(engine) as s, s.begin():
        s.add(note.row(utcnow()))
