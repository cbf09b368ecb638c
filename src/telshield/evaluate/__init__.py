"""Metrics against the simulator's truth, whole-system replay, benchmarks' shared code."""
