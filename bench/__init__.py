"""Benchmark and load tooling (never deployed): `make bench`, `make load`; see bench/README.md."""
