"""Compiled contract artifacts (ABI and bytecode) built from ``contracts/*.sol`` at the repository root."""
