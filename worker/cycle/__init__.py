"""The trading cycle (`cycle.py`) as named steps, with the records that pass between them
(`records.py`), the one way into a position (`entry.py`) and the one way out (`exits.py`)."""
