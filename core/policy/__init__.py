"""Policies behind one interface: rule baseline now, RecurrentPPO later."""
