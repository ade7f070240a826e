"""ComplianceShield: a real-time compliance gate for transfers of tokenized securities."""

__version__ = "0.1.0"
