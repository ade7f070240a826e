"""cdk-nag (AwsSolutions) findings that were reviewed and accepted, each with its reason.

Every other finding fails synthesis (tests/deploy/test_cdk.py asserts none is left). A new
finding is fixed in the stack, or added here with a reason a reviewer can check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct

if TYPE_CHECKING:
    from compliance_shield_cdk.stack import ComplianceShieldStack

DEFAULT_PORT = (
    "The clients, the Kubernetes NetworkPolicies and the runbooks use the standard port; the port is not a control: "
    "the security group admits only the service's tasks, in isolated subnets."
)


def _suppress(
    construct: IConstruct | Sequence[IConstruct], *rules: tuple[str, str], applies_to: list[str] | None = None
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to) for rule, reason in rules],
        apply_to_children=True,
    )


def suppress_reviewed_findings(stack: ComplianceShieldStack) -> None:
    """Attach the reviewed suppressions to the constructs of ``stack``."""
    _suppress(stack.database, ("AwsSolutions-RDS11", DEFAULT_PORT))
    _suppress(stack.redis, ("AwsSolutions-AEC5", DEFAULT_PORT))
    NagSuppressions.add_resource_suppressions_by_path(
        stack,
        f"/{stack.stack_name}/Database/Secret/Resource",
        [
            NagPackSuppression(
                id="AwsSolutions-SMG4",
                reason="Single-user rotation would change the password under running tasks (their new connections "
                "would fail until replaced); it is rotated by the runbook in docs/operations.md with a forced "
                "deployment.",
            )
        ],
    )
    _suppress(
        stack.redis_secret,
        (
            "AwsSolutions-SMG4",
            "An ElastiCache AUTH token is rotated with ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE, then "
            "SET) while both tokens are valid; docs/operations.md has the runbook.",
        ),
    )
    _suppress(
        stack.providers_secret,
        ("AwsSolutions-SMG4", "Vendor-issued API keys (Ballerine, Chainalysis, Marble) are rotated at the vendor."),
    )
    _suppress(
        stack.jwt_rotation,
        ("AwsSolutions-IAM4", "AWSLambdaBasicExecutionRole only lets the rotation function write its own logs."),
        applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    )
    _suppress(
        stack.jwt_rotation,
        ("AwsSolutions-IAM5", "secretsmanager:GetRandomPassword has no resource-level permissions."),
        applies_to=["Resource::*"],
    )
    _suppress(
        stack.api.load_balancer,
        ("AwsSolutions-EC23", "The public API's load balancer accepts HTTPS (and HTTP, redirected) from anywhere."),
    )
    for task in stack.task_definitions:
        # a Fargate task definition always has an execution role once it pulls from ECR and logs
        assert task.execution_role is not None
        _suppress(
            task,
            (
                "AwsSolutions-ECS2",
                "The environment holds only non-secret settings (log level, port, broker list); every secret is "
                "injected from Secrets Manager.",
            ),
        )
        _suppress(
            task.execution_role,
            ("AwsSolutions-IAM5", "ecr:GetAuthorizationToken has no resource-level permissions."),
            applies_to=["Resource::*"],
        )
        _suppress(
            task.task_role,
            (
                "AwsSolutions-IAM5",
                "The workers create and use the compliance.* topics and the compliance-consumer-group group of this "
                "one cluster; MSK names them only under the cluster's own topic/ and group/ ARNs.",
            ),
            applies_to=[
                'Resource::{"Fn::Select":[0,{"Fn::Split":[":cluster/",{"Fn::GetAtt":["Kafka","Arn"]}]}]}:topic/compliance-msk/*',
                'Resource::{"Fn::Select":[0,{"Fn::Split":[":cluster/",{"Fn::GetAtt":["Kafka","Arn"]}]}]}:group/compliance-msk/*',
            ],
        )
    NagSuppressions.add_resource_suppressions_by_path(
        stack,
        f"/{stack.stack_name}/AWS679f53fac002430cb0da5b7982bd2287",
        [
            NagPackSuppression(
                id="AwsSolutions-IAM4",
                reason="The CDK AwsCustomResource function's role uses AWSLambdaBasicExecutionRole for its logs only.",
                applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            ),
            NagPackSuppression(
                id="AwsSolutions-L1",
                reason="The AwsCustomResource function's runtime is chosen by aws-cdk-lib and follows its releases.",
            ),
        ],
        apply_to_children=True,
    )
