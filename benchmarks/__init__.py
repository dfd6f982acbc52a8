"""Benchmarks of the license_tracking pipeline; run ``python -m benchmarks``."""
