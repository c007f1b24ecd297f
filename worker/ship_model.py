"""`python -m worker.ship_model`: the command's name; the runner is worker/offline/ship_model.py."""

from worker.offline.ship_model import main

if __name__ == "__main__":
    main()
