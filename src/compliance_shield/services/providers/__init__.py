"""External evidence providers behind the check: KYC (the registry, Ballerine events, officer
overrides) and KYT (Chainalysis)."""
