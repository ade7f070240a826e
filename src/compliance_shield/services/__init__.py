"""Use cases. Services own the transaction; repositories in ``db/`` never commit."""
