"""`python -m worker.go_live`: the command's name; the gate at the worker is worker/process/go_live.py."""

from worker.process.go_live import main

if __name__ == "__main__":
    main()
