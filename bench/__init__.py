"""Load and micro benchmarks (``python -m bench.engine``, ``python -m bench.checks``)."""
