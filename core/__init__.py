"""Pure trading logic: no streamlit, sqlmodel, alpaca or yfinance imports here."""
