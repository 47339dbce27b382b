"""Canary rollouts: a weighted router, statistical analysis of canary against stable, and the controller."""
