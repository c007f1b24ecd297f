"""Market data: session bars, the synthetic world, CSV replay and the simulated market."""
