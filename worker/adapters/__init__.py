"""The worker's adapters to the outside: Alpaca through alpaca-py (the guarded HTTP session,
the broker, market data) and yfinance as the fallback data source."""
