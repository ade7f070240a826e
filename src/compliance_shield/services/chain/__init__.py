"""The chain side: the oracle writer, the chain indexer, EIP-712 transfer certificates and contract deployment."""
