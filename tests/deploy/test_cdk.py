"""The AWS CDK app (deploy/cdk): stack ComplianceShieldProd synthesized in-process, once per module.

Synthesis needs no AWS credentials: account, region, zones and the DNS zone come from cdk.json's
context. cdk-nag's AwsSolutions pack runs as an aspect; every finding left is an error here.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from deploy_support import ROOT, public_get_routes, setting_names

from compliance_shield import __version__

CDK = ROOT / "deploy" / "cdk"
sys.path.insert(0, str(CDK))

import aws_cdk  # noqa: E402 - after the app's folder is on the path
from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402
from compliance_shield_cdk.stack import ComplianceShieldStack, StackConfig, with_nag  # noqa: E402

WORKERS = ("relay", "consumer", "oracle", "indexer")
#: names the container's start-up wrapper turns into DATABASE_URL and REDIS_URL (stack._command)
WRAPPER_INPUTS = {"DB_USER", "DB_PASSWORD", "REDIS_AUTH"}
Resource = dict[str, Any]


@pytest.fixture(scope="module")
def synthesized() -> tuple[Template, Annotations, dict[str, Any]]:
    context = json.loads((CDK / "cdk.json").read_text())["context"]
    app = aws_cdk.App(context=context)
    stack = ComplianceShieldStack(app, "ComplianceShieldProd", StackConfig.from_context(app))
    with_nag(app)
    template = Template.from_stack(stack)
    return template, Annotations.from_stack(stack), context


@pytest.fixture(scope="module")
def template(synthesized: tuple[Template, Annotations, dict[str, Any]]) -> Template:
    return synthesized[0]


def _resources(template: Template, kind: str) -> dict[str, Resource]:
    found: dict[str, Resource] = template.find_resources(kind)
    return found


def _props(template: Template, kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in _resources(template, kind).values()]


def test_cdk_nag_finds_nothing_unsuppressed(synthesized: tuple[Template, Annotations, dict[str, Any]]) -> None:
    template, annotations, _ = synthesized
    pattern = Match.string_like_regexp("AwsSolutions-.*")
    findings = annotations.find_error("*", pattern) + annotations.find_warning("*", pattern)
    assert not findings, "\n".join(f"{f.id}: {str(f.entry.data)[:160]}" for f in findings)
    # every suppression carries a reason a reviewer can check
    reasons = [
        rule["reason"]
        for resource in template.to_json()["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert reasons
    assert all(len(reason) >= 40 for reason in reasons), reasons


def test_vpc_spans_three_zones_with_flow_logs(template: Template) -> None:
    subnets = _props(template, "AWS::EC2::Subnet")
    assert len({s["AvailabilityZone"] for s in subnets}) == 3
    assert len(subnets) == 9  # public, app and data subnets in each zone
    assert len(_resources(template, "AWS::EC2::NatGateway")) == 3
    template.has_resource_properties("AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "ALL"})
    template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/aws/vpc/compliance-shield"})


def test_postgres_is_multi_az_encrypted_backed_up_and_protected(template: Template) -> None:
    (db,) = _props(template, "AWS::RDS::DBInstance")
    assert db["Engine"] == "postgres"
    assert db["MultiAZ"] is True
    assert db["StorageEncrypted"] is True
    assert db["BackupRetentionPeriod"] >= 7
    assert db["DeletionProtection"] is True
    assert db["EnablePerformanceInsights"] is True
    assert db["DBName"] == "compliance_db"
    template.has_resource_properties("AWS::RDS::DBParameterGroup", {"Parameters": {"rds.force_ssl": "1"}})


def test_redis_uses_tls_and_auth(template: Template) -> None:
    (redis,) = _props(template, "AWS::ElastiCache::ReplicationGroup")
    assert redis["TransitEncryptionEnabled"] is True
    assert redis["AtRestEncryptionEnabled"] is True
    assert redis["MultiAZEnabled"] is True
    assert "compliance/redis" in json.dumps(redis["AuthToken"]) or "RedisAuth" in json.dumps(redis["AuthToken"])


def test_kafka_is_tls_only_with_iam_authentication(template: Template) -> None:
    (kafka,) = _props(template, "AWS::MSK::Cluster")
    assert kafka["EncryptionInfo"]["EncryptionInTransit"] == {"ClientBroker": "TLS", "InCluster": True}
    assert kafka["ClientAuthentication"]["Sasl"]["Iam"]["Enabled"] is True
    assert kafka["ClientAuthentication"]["Unauthenticated"]["Enabled"] is False
    assert kafka["NumberOfBrokerNodes"] == 3


def test_the_api_and_every_worker_run_on_fargate_from_one_image(template: Template) -> None:
    services = {s["ServiceName"]: s for s in _props(template, "AWS::ECS::Service")}
    assert set(services) == {"compliance-api", *(f"compliance-{w}" for w in WORKERS)}
    assert all(s["LaunchType"] == "FARGATE" for s in services.values())
    families = {t["Family"]: t for t in _props(template, "AWS::ECS::TaskDefinition")}
    assert set(families) == {"compliance-api", "compliance-migrate", *(f"compliance-{w}" for w in WORKERS)}
    images = set()
    for family, task in families.items():
        (container,) = task["ContainerDefinitions"]
        assert container["ReadonlyRootFilesystem"] is True, family
        assert container["User"] == "10001:10001", family
        images.add(json.dumps(container["Image"]))
        command = container["Command"]
        name = family.removeprefix("compliance-")
        expected = ["serve"] if name == "api" else ["migrate"] if name == "migrate" else ["worker", name]
        assert command[1:] == expected, family
    assert len(images) == 1
    assert f":{__version__}" in images.pop()


def test_every_environment_name_of_a_task_is_a_setting(template: Template) -> None:
    for task in _props(template, "AWS::ECS::TaskDefinition"):
        (container,) = task["ContainerDefinitions"]
        environment = {e["Name"] for e in container["Environment"]}
        secrets = {s["Name"] for s in container["Secrets"]}
        assert not environment - setting_names(), environment - setting_names()
        assert not secrets - setting_names() - WRAPPER_INPUTS, secrets - setting_names() - WRAPPER_INPUTS
        script = container["EntryPoint"][2]
        assert "DATABASE_URL=" in json.dumps(script)
        assert "REDIS_URL=" in json.dumps(script)
        assert "unset DB_USER DB_PASSWORD REDIS_AUTH" in json.dumps(script)
        assert "JWT_SECRET" in secrets


def test_the_api_is_served_over_https_at_api_domain(
    synthesized: tuple[Template, Annotations, dict[str, Any]],
) -> None:
    template, _, context = synthesized
    listeners = {listener["Port"]: listener for listener in _props(template, "AWS::ElasticLoadBalancingV2::Listener")}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"]
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    (group,) = _props(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert group["HealthCheckPath"] in public_get_routes()
    api = next(s for s in _props(template, "AWS::ECS::Service") if s["ServiceName"] == "compliance-api")
    assert [lb["ContainerPort"] for lb in api["LoadBalancers"]] == [8000]
    template.has_resource_properties("AWS::Route53::RecordSet", {"Name": f"api.{context['domainName']}.", "Type": "A"})
    template.has_resource_properties(
        "AWS::CertificateManager::Certificate", {"DomainName": f"api.{context['domainName']}"}
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/aws/ecs/compliance-api"})


def test_the_api_scales_3_to_10_on_cpu_70_and_memory_80(template: Template) -> None:
    (target,) = _props(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (3, 10)
    policies = {
        p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"]: p[
            "TargetTrackingScalingPolicyConfiguration"
        ]["TargetValue"]
        for p in _props(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    }
    assert policies == {"ECSServiceAverageCPUUtilization": 70, "ECSServiceAverageMemoryUtilization": 80}


def test_jwt_secret_rotates_every_90_days(template: Template) -> None:
    secrets = {s["Name"]: s for s in _props(template, "AWS::SecretsManager::Secret")}
    assert {"compliance/jwt", "compliance/database", "compliance/redis", "compliance/providers"} <= set(secrets)
    (rotation,) = _props(template, "AWS::SecretsManager::RotationSchedule")
    assert rotation["RotationRules"]["ScheduleExpression"] == "rate(90 days)"
    assert "JwtSecret" in json.dumps(rotation["SecretId"])


def test_high_error_rate_alarm_follows_the_guide(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "HighErrorRate",
            "Namespace": "AWS/ApplicationELB",
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": 100,
            "EvaluationPeriods": 2,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_the_backup_bucket_is_encrypted_versioned_and_private(template: Template) -> None:
    buckets = _props(template, "AWS::S3::Bucket")
    kms = [b for b in buckets if "aws:kms" in json.dumps(b.get("BucketEncryption"))]
    assert len(kms) == 1
    (backups,) = kms
    assert backups["VersioningConfiguration"] == {"Status": "Enabled"}
    assert backups["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
