"""Benchmarks: each ``bench_*.py`` module measures one claim against a
baseline taken in the same run; ``python -m benchmarks`` runs them all."""
