"""The go-live gate at the worker: `--mode live` starts only on a paper record that meets the gate
(core/gate.py), or on an operator's override with a size cap and an expiry; and the command that
shows the gate and grants or revokes an override.

    python -m worker.go_live status [--model PATH]
    python -m worker.go_live override --by NAME --reason "..." --size-cap 0.1 --sessions 5 [--model PATH]
    python -m worker.go_live revoke --by NAME

On an override the live worker trades at the cap (the risk per trade and the contract limit
scaled, worker/cycle.py `capped`). Each new session counts against it; when it has no sessions
left the gate is evaluated again: met, the override ends and live trading goes on at full size;
not met, the override ends and the worker returns to paper (it restarts itself with
`--mode paper`, after an event the alert relay sends).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from core.gate import GateReport
from db.go_live import (
    OverrideError,
    OverrideView,
    active_override,
    active_params,
    end_override,
    gate_report,
    grant_override,
    use_session,
)

log = logging.getLogger("worker.go_live")
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


@dataclass
class LiveGuard:
    """The live worker's side of the gate: the override it trades on (None: the gate was met)."""

    engine: Engine
    model_version: str
    override: OverrideView | None

    @property
    def size_cap(self) -> float:
        return 1.0 if self.override is None else self.override.size_cap

    def on_session(self, day: date) -> bool:
        """A new session: count it against the override; False when the worker must return to paper."""
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


def open_live(engine: Engine, model_version: str) -> LiveGuard:
    """Before the first live cycle: the gate, else an override for these versions, else refused.
    The first cycle's `on_session` counts the session (or finds the override run out: paper)."""
    report, record = gate_report(engine, model_version)
    if report.passed:
        log.info("go-live gate met: live trading at full size")
        return LiveGuard(engine, model_version, None)
    ov = active_override(engine)
    if ov is None:
        raise GateRefusedError(f"{report.summary()}\n{describe(report)}\n{HOW_TO}")
    version = record.param_version
    if (ov.model_version, ov.param_version) != (model_version, version):
        raise GateRefusedError(
            f"the go-live override {ov.id} was granted for model {ov.model_version} and parameter version "
            f"{ov.param_version}; this worker would run model {model_version} and parameter version {version}. "
            f"{report.summary()}. {HOW_TO}"
        )
    log.warning("go-live gate not met (%s): live on override %d by %s", report.summary(), ov.id, ov.who)
    return LiveGuard(engine, model_version, ov)


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
