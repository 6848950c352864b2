"""Benchmark of the telephone-status function against a vendor-style baseline (never deployed).

Entry point: `make bench` (`python -m bench.run`). See bench/run.py for what is measured.
"""
