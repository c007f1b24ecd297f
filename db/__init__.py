"""Persistence: SQLModel tables, engine set-up, migrations, the worker's write API, the
console's read API and the control actions (trading state, parameter versions)."""
