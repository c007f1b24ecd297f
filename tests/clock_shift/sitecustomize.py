"""Started by Python in every test subprocess (a worker, the console) while the suite runs under
a moved clock: PYTHONPATH names this folder only then (tests/moved_clock.py). It moves this
process's clock by the same shift as the test process, so every process sees the same day."""

from tests_clock_shift import travel_from_environment

travel_from_environment()
