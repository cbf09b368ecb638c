"""Benchmarks: each ``bench/bench_<name>.py`` measures against a baseline in the same run."""
