"""`python -m worker.option_history`: the command's name; the download and import is
worker/offline/option_history.py."""

import sys

from worker.offline.option_history import main

if __name__ == "__main__":
    sys.exit(main())
