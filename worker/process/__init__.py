"""The long-running worker process around the cycle: its clocks, the main loop (`main_loop.py`),
the control tick and the operator's requests, broker-failure escalation, what failed cycles lead
to, the go-live gate at the worker and what runs after each close."""
