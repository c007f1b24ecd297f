"""The offline runners: backtests and replays through the worker's own cycle, and the
walk-forward evaluation. They run to an end; the long-running process is `worker/__main__.py`."""
