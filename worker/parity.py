"""`python -m worker.parity`: the command's name; the runner is worker/offline/parity.py."""

from worker.offline.parity import main

if __name__ == "__main__":
    main()
