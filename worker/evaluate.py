"""`python -m worker.evaluate`: the command's name; the runner is worker/offline/evaluate.py."""

from worker.offline.evaluate import main

if __name__ == "__main__":
    main()
