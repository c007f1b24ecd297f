"""The RL model's rows: LSTM memory per symbol, the model registry and walk-forward evaluations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, insert, select

from db.control import utcnow
from db.models import ModelEvaluation, ModelRecord, PolicyMemory, Run


class PolicyMemoryState(Protocol):
    """An LSTM state as the RL policy keeps it (core.policy.rl.LstmMemory)."""

    day: date | None
    steps: int

    def to_bytes(self) -> bytes: ...


def save_policy_memories(conn: Connection, memories: dict[tuple[str, str], tuple[PolicyMemoryState, datetime]]) -> None:
    """Replace each (symbol, model_version) row with its newest state (portable upsert)."""
    for (symbol, version), (memory, at) in memories.items():
        day = (memory.day or at.date()).isoformat()
        conn.execute(delete(PolicyMemory).where(PolicyMemory.symbol == symbol, PolicyMemory.model_version == version))
        conn.execute(
            insert(PolicyMemory).values(
                symbol=symbol,
                model_version=version,
                day=day,
                steps=memory.steps,
                state=memory.to_bytes(),
                updated_at=at,
            )
        )


def load_policy_memories(engine: Engine, model_version: str) -> list[tuple[str, str, int, bytes]]:
    """(symbol, day, steps, state) of every stored LSTM state of this model version."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(PolicyMemory.symbol, PolicyMemory.day, PolicyMemory.steps, PolicyMemory.state).where(
                PolicyMemory.model_version == model_version
            )
        ).all()
    return [(r[0], r[1], int(r[2]), bytes(r[3])) for r in rows]


def register_model(engine: Engine, version: str, path: str, metadata: dict[str, Any]) -> None:
    """Add or refresh a model in the registry (the Models page lists these)."""
    with engine.begin() as conn:
        conn.execute(delete(ModelRecord).where(ModelRecord.version == version))
        conn.execute(
            insert(ModelRecord).values(version=version, path=path, metadata_json=metadata, registered_at=utcnow())
        )


def save_evaluation(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Store one evaluation's rows (ModelEvaluation columns) in one transaction."""
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(ModelEvaluation), [{"created_at": utcnow(), **r} for r in rows])


def models(engine: Engine) -> list[dict[str, Any]]:
    """The registry, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(ModelRecord).order_by(ModelRecord.registered_at.desc())).mappings().all()  # type: ignore[attr-defined]
    return [dict(r) for r in rows]


def evaluations(engine: Engine, model_version: str | None = None) -> list[dict[str, Any]]:
    """Evaluation rows (newest evaluation first), optionally for one model version."""
    query = select(ModelEvaluation).order_by(ModelEvaluation.id.desc())  # type: ignore[union-attr]
    if model_version is not None:
        query = query.where(ModelEvaluation.model_version == model_version)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings().all()]


def active_model(engine: Engine) -> str | None:
    """The model version the newest worker run loaded (None: rules only, or no worker yet)."""
    with engine.connect() as conn:
        args = conn.execute(
            select(Run.args).where(Run.kind == "worker").order_by(Run.started_at.desc()).limit(1)  # type: ignore[attr-defined]
        ).scalar()
    return (args or {}).get("model_version")
