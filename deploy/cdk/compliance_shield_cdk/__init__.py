"""ComplianceShield's AWS infrastructure as a CDK app (stack ``ComplianceShieldProd``)."""
