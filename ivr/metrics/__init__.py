"""Prometheus metrics of the engine, served on a loopback port (docs/operations.md)."""
