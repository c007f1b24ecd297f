"""Moving a process's wall clock by TEST_CLOCK_SHIFT_S seconds with time-machine (it ticks on
from there). Lives beside sitecustomize.py so a subprocess imports it without the project on
its path."""

from __future__ import annotations

import os
import time

SHIFT_VARIABLE = "TEST_CLOCK_SHIFT_S"


def travel_from_environment() -> bool:
    """Start moving this process's clock if TEST_CLOCK_SHIFT_S is set; True when it did."""
    shift = os.environ.get(SHIFT_VARIABLE)
    if not shift:
        return False
    import time_machine

    time_machine.travel(time.time() + float(shift), tick=True).start()
    return True
