"""The transfer check below the HTTP layer: one entry point for the API, the batch route and the
Kafka consumer.

    service.py      DecisionService: check(), check_many() — admission, evidence, then the writer
    writer.py       the group-commit writer: the queue, batching, and failure isolation
    commit.py       the one transaction of a batch: lock, catch ledgers up, decide, reserve, write
    idempotency.py  Idempotency-Key claims, stored repeats and repeats within a batch
    contract.py     what crosses the package's edge: the request hash, the queued item, protocols
"""
