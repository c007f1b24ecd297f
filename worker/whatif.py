"""`python -m worker.whatif`: the command's name; the runner is worker/offline/whatif.py."""

from worker.offline.whatif import main

if __name__ == "__main__":
    main()
