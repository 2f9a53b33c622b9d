"""Benchmarks: run each script directly (see their module docstrings)."""
