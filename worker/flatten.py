"""`python -m worker.flatten`: the command's name; the direct stop is worker/book/flatten.py."""

from worker.book.flatten import main

if __name__ == "__main__":
    main()
