"""Events: the transactional outbox and the feed of committed events."""
