"""Background workers, each started by ``compliance-shield worker <name>``."""
