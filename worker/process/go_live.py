"""The go-live gate at the worker: `--mode live` starts only on a paper record that meets the gate
(core/gate.py), or on an operator's override with a size cap and an expiry; and the command that
shows the gate and grants or revokes an override.

    python -m worker.go_live status [--model PATH]
    python -m worker.go_live override --by NAME --reason "..." --size-cap 0.1 --sessions 5 [--model PATH]
    python -m worker.go_live revoke --by NAME

On an override the live worker trades at the cap (the risk per trade and the contract limit
scaled, worker/cycle/cycle.py `capped`). Each new session counts against it; when it has no sessions
left the gate is evaluated again: met, the override ends and live trading goes on at full size;
not met, the override ends and the worker returns to paper (it restarts itself with
`--mode paper`, after an event the alert relay sends).

The gate judges every version that trades live: each live cycle's control read is checked
(`LiveGuard.check`), and a new parameter version, a new policy version or a change of the override
in force (revoked, replaced) is judged at once. Not met and no override for exactly those versions:
the worker stops opening positions in that cycle (REDUCING, reason `go_live_gate`, with an event
the alert relay sends) and returns to paper at the next session, as on an expired override.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from core.calendar import NY
from core.gate import GateReport
from core.params import TradingParams
from core.types import TradingState
from db.control import ControlSnapshot, EventNote, read_control, set_trading_state
from db.go_live import (
    LiveVerdict,
    OverrideError,
    OverrideView,
    active_override,
    active_override_id,
    active_params,
    end_override,
    gate_report,
    grant_override,
    judge,
    record_event,
    use_session,
)

log = logging.getLogger("worker.go_live")
GATE_CODE = "go_live_gate"  # the reason code of the REDUCING the gate sets, and its events' code
HOW_TO = (
    "evidence: python -m worker.go_live status; "
    'an override: python -m worker.go_live override --by NAME --reason "..." --size-cap 0.1 --sessions 5'
)


class GateRefusedError(ValueError):
    """`--mode live` refused: the gate's failing criteria with their values, and what to do."""


def describe(report: GateReport) -> str:
    """Every criterion, one a line: pass or fail, value against threshold, and what is missing."""
    lines = []
    for c in report.criteria:
        mark = "pass" if c.passed else "FAIL"
        missing = f" -- missing: {c.missing}" if c.missing else ""
        lines.append(f"  [{mark}] {c.name}: {c.value} (needs {c.threshold}; n={c.sample}){missing}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Judged:
    """The versions and the override in force that the guard judged last."""

    param_version: int
    policy_version: str
    override_id: int | None


@dataclass
class LiveGuard:
    """The live worker's side of the gate: the override it trades on (None: the gate was met),
    and, once a version or override change failed the gate, why it stopped opening positions."""

    engine: Engine
    model_version: str
    override: OverrideView | None
    judged: Judged | None = None  # what `check` compares each cycle's read with
    stopped: str = ""  # the gate's refusal: no entries, and paper at the next session
    run_id: str | None = None

    @property
    def size_cap(self) -> float:
        return 1.0 if self.override is None else self.override.size_cap

    def on_session(self, day: date) -> bool:
        """A new session: count it against the override; False when the worker must return to paper."""
        if self.stopped:
            text = f"Back to paper at the session of {day.isoformat()}. {self.stopped}"
            record_event(self.engine, EventNote("error", GATE_CODE, text, self.run_id))
            return False
        ov = self.override
        if ov is None:
            return True
        key = day.isoformat()
        if key in ov.used_days:
            return True
        if ov.sessions_left > 0:
            self.override = use_session(self.engine, ov.id, key)
            log.warning(
                "live on override %d: session %s, %d of %d, at %.0f%% of the size",
                ov.id, key, len(self.override.used_days), ov.sessions, ov.size_cap * 100,
            )  # fmt: skip
            return True
        report, _ = gate_report(self.engine, self.model_version)
        if report.passed:
            end_override(self.engine, ov.id, "gate_met",
                         f"Go-live override {ov.id} ended after {ov.sessions} sessions: the gate is met; "
                         "live trading goes on at full size.", level="info")  # fmt: skip
            self.override = None
            return True
        end_override(self.engine, ov.id, "expired",
                     f"Go-live override {ov.id} expired after {ov.sessions} live sessions and the gate is not met "
                     f"({report.summary()}): the worker returns to paper.", level="error")  # fmt: skip
        return False

    def check(
        self, control: ControlSnapshot, policy_version: str, params: TradingParams, now: datetime
    ) -> ControlSnapshot:
        """Every live cycle, on its control read: a changed parameter version, policy version or
        override in force is judged by the gate (one small read of the override's id otherwise).
        Refused: REDUCING with the gate's reason at once, and kept while the refusal stands."""
        seen = Judged(control.param_version, policy_version, active_override_id(self.engine))
        refused = False
        if seen != self.judged:
            before, self.judged = self.judged, seen
            refused = self._judge(before, seen, judge(self.engine, policy_version, control.param_version, params), now)
        if not self.stopped:
            return control
        note = EventNote("error", GATE_CODE, self.stopped, self.run_id)
        if control.state is TradingState.ACTIVE:  # also after an operator's resume: the refusal stands
            log.error("%s", self.stopped)
            written = set_trading_state(self.engine, TradingState.REDUCING, "worker", GATE_CODE, self.stopped,
                                        at=now, note=note)  # fmt: skip
            control = replace(control, state=TradingState.REDUCING, reason_code=GATE_CODE)
            refused = refused and written is None  # the state moved meanwhile: the event still goes out
        if refused:  # REDUCING or HALTED already kept entries out: the alert all the same
            record_event(self.engine, note)
        return control

    def _judge(self, before: Judged | None, seen: Judged, verdict: LiveVerdict, now: datetime) -> bool:
        """Act on the gate's verdict for `seen`: trade on (at full size or on the covering
        override's cap) or stop opening positions and return to paper at the next session."""
        self.model_version = seen.policy_version
        if verdict.allowed:
            ov = None if verdict.report.passed else verdict.covering
            if ov is not None and (self.override is None or ov.id != self.override.id) and ov.sessions_left > 0:
                ov = use_session(self.engine, ov.id, now.astimezone(NY).date().isoformat())  # it trades today
            self.override = ov
            if self.stopped:
                self.stopped = ""
                text = (f"Live trading may go on: {verdict.summary()}. The worker stays live; "
                        "resume trading to open positions again.")  # fmt: skip
                record_event(self.engine, EventNote("warning", GATE_CODE, text, self.run_id))
            return False
        self.stopped = (
            f"The worker trades live and {_change(before, seen)}: {verdict.summary()}. It stops opening "
            "positions now and returns to paper at the next session."
        )
        return True


def _change(before: Judged | None, seen: Judged) -> str:
    """What changed since the last verdict, in words."""
    if before is None:
        return "its versions were judged"
    changes = []
    if before.param_version != seen.param_version:
        changes.append(f"the parameter version changed from {before.param_version} to {seen.param_version}")
    if before.policy_version != seen.policy_version:
        changes.append(f"the policy version changed from {before.policy_version} to {seen.policy_version}")
    if before.override_id != seen.override_id:
        changes.append(
            f"override {before.override_id} is no longer in force"
            if seen.override_id is None
            else f"the override in force is now {seen.override_id}"
        )
    return " and ".join(changes) or "its versions were judged again"


def open_live(engine: Engine, model_version: str) -> LiveGuard:
    """Before the first live cycle: the gate, else an override for these versions, else refused.
    The first cycle's `on_session` counts the session (or finds the override run out: paper)."""
    report, record = gate_report(engine, model_version)
    version = record.param_version
    ov = active_override(engine)
    judged = Judged(version, model_version, None if ov is None else ov.id)  # the first cycle judges nothing again
    if report.passed:
        log.info("go-live gate met: live trading at full size")
        return LiveGuard(engine, model_version, None, judged)
    if ov is None:
        raise GateRefusedError(f"{report.summary()}\n{describe(report)}\n{HOW_TO}")
    if (ov.model_version, ov.param_version) != (model_version, version):
        raise GateRefusedError(
            f"the go-live override {ov.id} was granted for model {ov.model_version} and parameter version "
            f"{ov.param_version}; this worker would run model {model_version} and parameter version {version}. "
            f"{report.summary()}. {HOW_TO}"
        )
    log.warning("go-live gate not met (%s): live on override %d by %s", report.summary(), ov.id, ov.who)
    return LiveGuard(engine, model_version, ov, judged)


def paper_after_gate(engine: Engine, run_id: str) -> bool:
    """A paper start after the gate sent the worker back: the REDUCING it set kept live trading
    from opening positions; paper opens them again, to earn the record the gate asks for."""
    with Session(engine) as s:
        control = read_control(s)
    if control.state is not TradingState.REDUCING or control.reason_code != GATE_CODE:
        return False
    text = "Back on paper: the go-live gate's REDUCING applied to live trading; paper trading opens positions again."
    note = EventNote("info", GATE_CODE, text, run_id)
    return set_trading_state(engine, TradingState.ACTIVE, "worker", "paper_after_gate", text, note=note) is not None


def paper_argv(argv: list[str]) -> list[str]:
    """The same command line with `--mode paper` (the worker's return to paper)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--mode" and i + 1 < len(argv):
            out += ["--mode", "paper"]
            skip = True
        elif arg.startswith("--mode="):
            out.append("--mode=paper")
        else:
            out.append(arg)
    return out


def paper_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment for paper: the paper keys where given (APCA_PAPER_API_KEY_ID and
    APCA_PAPER_API_SECRET_KEY; Alpaca's paper and live accounts have different keys)."""
    out = dict(env)
    if env.get("APCA_PAPER_API_KEY_ID") and env.get("APCA_PAPER_API_SECRET_KEY"):
        out["APCA_API_KEY_ID"] = env["APCA_PAPER_API_KEY_ID"]
        out["APCA_API_SECRET_KEY"] = env["APCA_PAPER_API_SECRET_KEY"]
    out.pop("LIVE_TRADING_CONFIRM", None)
    return out


def return_to_paper(argv: list[str]) -> None:
    """Replace this process with the same worker in paper mode (never returns)."""
    command = [sys.executable, "-m", "worker", *paper_argv(argv)]
    log.error("returning to paper: %s", " ".join(command))
    logging.shutdown()
    os.execve(sys.executable, command, paper_environment(dict(os.environ)))


# ---- the command ----------------------------------------------------------------------------
def _model_version(engine: Engine, model: str | None) -> str:
    """The policy version live trading would run (core.policy.ensemble.policy_version): the model
    given, with the rules in `both` mode, or the rules' when they decide or no model is given."""
    from pathlib import Path

    from core.policy.ensemble import policy_version
    from core.policy.rules import RulePolicy
    from core.rl.metadata import ModelMetadata, metadata_path
    from core.types import PolicyMode

    _, params = active_params(engine)
    if model is None or model == "none" or params.policy_mode is PolicyMode.RULES:
        return RulePolicy.version  # no model read: the rules decide
    found = ModelMetadata.read(metadata_path(Path(model))).model_version
    return policy_version(params.policy_mode, found, RulePolicy.version)


def main(argv: list[str] | None = None) -> None:
    from db.engine import database_url, make_engine
    from db.migrate import upgrade

    parser = argparse.ArgumentParser(prog="python -m worker.go_live", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["status", "override", "revoke"])
    parser.add_argument("--db", default=None, help="default: DATABASE_URL or sqlite:///data/trading.db")
    parser.add_argument("--model", default=os.environ.get("MODEL", "models/rppo-shipped.zip"))
    parser.add_argument("--by", default="", help="who grants or revokes (override, revoke)")
    parser.add_argument("--reason", default="", help="why the gate is overridden (override)")
    parser.add_argument("--size-cap", type=float, default=0.1, help="fraction of the normal size, at most 0.5")
    parser.add_argument("--sessions", type=int, default=5, help="live sessions the override allows")
    args = parser.parse_args(argv)
    url = database_url(args.db)
    upgrade(url)
    engine = make_engine(url)
    version = _model_version(engine, args.model)
    if args.command == "status":
        report, _ = gate_report(engine, version)
        print(f"{report.summary()}\n{describe(report)}")
        ov = active_override(engine)
        if ov is not None:
            print(f"override {ov.id} by {ov.who}: {ov.sessions_left} of {ov.sessions} sessions left at "
                  f"{ov.size_cap:.0%} of the size ({ov.reason})")  # fmt: skip
        return
    if args.command == "revoke":
        ov = active_override(engine)
        if ov is None:
            raise SystemExit("no override to revoke")
        end_override(engine, ov.id, "revoked", f"Go-live override {ov.id} revoked by {args.by or 'the operator'}.")
        print(f"override {ov.id} revoked")
        return
    try:
        ov = grant_override(engine, who=args.by, reason=args.reason, size_cap=args.size_cap,
                            sessions=args.sessions, model_version=version)  # fmt: skip
    except OverrideError as exc:
        raise SystemExit(f"override refused: {exc}") from None
    print(f"override {ov.id} granted: {ov.sessions} live sessions at {ov.size_cap:.0%} of the size, model {version}")


if __name__ == "__main__":
    main()
