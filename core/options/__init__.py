"""0DTE option pricing: Black-Scholes, an implied-volatility surface from VIX, spreads, chains."""
