"""The book of open positions and the order path: one book kept per contract, the order desk,
reconciliation, the broker's option events, the stop's plan and the direct flatten."""
