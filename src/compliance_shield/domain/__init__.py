"""The pure core: value objects, facts, policies, rules and ``evaluate()``.

Nothing in this package performs I/O, reads a clock, the environment or a random source;
time arrives as an argument. ``tests/unit/test_invariants.py`` enforces it.
"""
