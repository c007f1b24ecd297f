"""Option structures: a position is a structure of legs (one contract each), opened and closed as
one order (NautilusTrader's model: the spread is the order, the legs are the positions)."""
