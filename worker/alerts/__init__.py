"""Alerts to the phone: the relay of journal rows to alerts (`relay.py`), apprise behind a queue
(`sender.py`) and the command that runs them (`command.py`, `python -m worker.alerts`)."""
