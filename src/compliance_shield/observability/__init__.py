"""Metrics (declared in one module) and structured logging."""
