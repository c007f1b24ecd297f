"""`python -m worker.alerts`: the command's name; the relay process is worker/alerts/command.py."""

from worker.alerts.command import main

if __name__ == "__main__":
    main()
