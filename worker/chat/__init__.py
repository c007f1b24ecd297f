"""Chat control: the operator's phone, both ways (python-telegram-bot). `python -m worker.chat`."""
