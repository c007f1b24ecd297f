"""Reinforcement learning: the training environment, observation encoding, training and metadata."""
