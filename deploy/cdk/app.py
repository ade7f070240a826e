"""The CDK app: ``cdk synth`` / ``cdk deploy ComplianceShieldProd`` from this folder.

Account, region, zones and the DNS zone come from the context (cdk.json, or ``-c key=value``),
so synthesis needs no AWS credentials. cdk-nag's AwsSolutions pack runs on every synthesis;
an unsuppressed finding fails it.
"""

from __future__ import annotations

import aws_cdk as cdk
from compliance_shield_cdk.stack import ComplianceShieldStack, StackConfig, with_nag

app = cdk.App()
ComplianceShieldStack(app, "ComplianceShieldProd", StackConfig.from_context(app))
with_nag(app)
app.synth()
