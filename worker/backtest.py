"""`python -m worker.backtest`: the command's name; the runner is worker/offline/backtest.py."""

from worker.offline.backtest import main

if __name__ == "__main__":
    main()
