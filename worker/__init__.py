"""The trading worker: scheduler wiring, the cycle as named steps, control, backtest."""
