"""The rule catalogue. Importing this package registers every rule in ``REGISTRY``."""

from compliance_shield.domain.rules import (  # noqa: F401  (imported to register the rules)
    identity,
    limits,
    parties,
    providers,
    screening,
    token,
)
from compliance_shield.domain.rules.registry import REGISTRY, RuleDefinition, RuleParams, rule

__all__ = ["REGISTRY", "RuleDefinition", "RuleParams", "rule"]
