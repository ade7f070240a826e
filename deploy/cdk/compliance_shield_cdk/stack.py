"""Stack ``ComplianceShieldProd``: the production infrastructure of the deployment guide.

* network: a VPC across three zones (public, private with NAT, isolated data subnets), flow logs
  to ``/aws/vpc/compliance-shield``;
* data: RDS PostgreSQL (Multi-AZ, KMS-encrypted, 7-day automated backups, deletion protection,
  Performance Insights, TLS forced), ElastiCache Redis (TLS, AUTH token, Multi-AZ), MSK (TLS
  only, IAM authentication), an S3 bucket for backups and exports (KMS, versioned, private);
* compute: ECS on Fargate — the API behind an HTTPS ALB at ``api.<domain>`` (Route 53 alias),
  scaling 3–10 tasks on CPU 70 % / memory 80 %, and one service per worker; the migration is a
  task definition run once per release before the services roll;
* secrets: ``compliance/jwt`` (rotated every 90 days), ``compliance/database`` (RDS-generated),
  ``compliance/redis`` (AUTH token), ``compliance/providers`` (vendor keys, filled by the operator);
* operations: logs in ``/aws/ecs/compliance-api`` (and one group per worker), alarm ``HighErrorRate``.

ECS on Fargate rather than EKS: the service is one image with several commands and no
cluster-level needs (no operators, no node tuning), so Fargate services carry it without a
control plane and node groups to run and patch. Teams on Kubernetes use deploy/k8s instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_msk as msk
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import custom_resources as cr
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from compliance_shield import __version__
from compliance_shield_cdk.suppressions import suppress_reviewed_findings

API_PORT = 8000
#: characters a generated database password leaves out, so the URL built from it needs no escaping
URL_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\,=^."
WORKERS = ("relay", "consumer", "oracle", "indexer")
IMAGE_REPOSITORY = "compliance-shield-api"


@dataclass(frozen=True)
class StackConfig:
    account: str
    region: str
    availability_zones: tuple[str, str, str]
    domain_name: str
    hosted_zone_id: str
    image_tag: str = __version__
    alarm_email: str = ""
    #: the oracle writer and the indexer need the contracts first (`compliance-shield chain deploy`)
    oracle_desired_count: int = 0
    indexer_desired_count: int = 0

    @classmethod
    def from_context(cls, scope: Construct) -> StackConfig:
        node = scope.node

        def get(key: str, default: Any = None) -> Any:
            value = node.try_get_context(key)
            return default if value is None else value

        zones = tuple(get("availabilityZones"))
        if len(zones) != 3:
            raise ValueError("context availabilityZones must name three zones")
        return cls(
            account=str(get("account")),
            region=str(get("region")),
            availability_zones=(zones[0], zones[1], zones[2]),
            domain_name=str(get("domainName")),
            hosted_zone_id=str(get("hostedZoneId")),
            image_tag=str(get("imageTag", __version__)),
            alarm_email=str(get("alarmEmail", "")),
            oracle_desired_count=int(get("oracleDesiredCount", 0)),
            indexer_desired_count=int(get("indexerDesiredCount", 0)),
        )


def with_nag(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions pack over the app (findings become synthesis errors)."""
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))


class ComplianceShieldStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, config: StackConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=config.account, region=config.region),
            description="ComplianceShield: real-time compliance gate (API, workers, PostgreSQL, Redis, Kafka)",
        )
        self.config = config
        self.key = kms.Key(self, "DataKey", alias="alias/compliance-shield", enable_key_rotation=True)
        # CloudWatch Logs may use the key for the encrypted log groups
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{config.region}.amazonaws.com"))
        self.access_logs = self._access_log_bucket()
        self.vpc = self._network()
        self.backups = self._backup_bucket()
        self.database = self._database()
        self.redis_secret, self.redis = self._redis()
        self.kafka = self._kafka()
        # CloudFormation does not expose MSK's bootstrap brokers: ask the Kafka API once deployed
        self.kafka_brokers = cr.AwsCustomResource(
            self,
            "KafkaBootstrapBrokers",
            on_update=cr.AwsSdkCall(
                service="Kafka",
                action="getBootstrapBrokers",
                parameters={"ClusterArn": self.kafka.attr_arn},
                physical_resource_id=cr.PhysicalResourceId.of(self.kafka.attr_arn),
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[self.kafka.attr_arn]),
            install_latest_aws_sdk=False,
        )
        self.jwt_secret, self.jwt_rotation = self._jwt_secret()
        self.providers_secret = secretsmanager.Secret(
            self,
            "ProvidersSecret",
            secret_name="compliance/providers",  # noqa: S106 - a name, not a value
            description="Vendor API keys (Ballerine, Chainalysis, Marble): set by the operator",
            encryption_key=self.key,
            secret_object_value={
                name: cdk.SecretValue.unsafe_plain_text("")
                for name in ("BALLERINE_API_KEY", "BALLERINE_WEBHOOK_SECRET", "CHAINALYSIS_API_KEY", "MARBLE_API_KEY")
            },
        )
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=IMAGE_REPOSITORY,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.task_definitions: list[ecs.FargateTaskDefinition] = []
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.api = self._api()
        self._workers()
        self._alarms()
        suppress_reviewed_findings(self)

    # -- network --------------------------------------------------------------------------------

    def _access_log_bucket(self) -> s3.Bucket:
        # ALB access logs accept only SSE-S3 encryption
        return s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(400))],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _network(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            availability_zones=list(self.config.availability_zones),
            nat_gateways=3,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        flow_logs = self._log_group("FlowLogs", "/aws/vpc/compliance-shield")
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    def _backup_bucket(self) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Backups",
            bucket_name=None,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/backups/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90))
                    ],
                    noncurrent_version_expiration=Duration.days(365),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

    # -- data -----------------------------------------------------------------------------------

    def _database(self) -> rds.DatabaseInstance:
        engine = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16_9)
        parameters = rds.ParameterGroup(self, "DatabaseParameters", engine=engine, parameters={"rds.force_ssl": "1"})
        return rds.DatabaseInstance(
            self,
            "Database",
            engine=engine,
            instance_identifier="compliance-db",
            instance_type=ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
            vpc=self.vpc,
            vpc_subnets=self._data_subnets(),
            multi_az=True,
            database_name="compliance_db",
            # the URL is assembled from these fields: no punctuation, so nothing needs escaping
            credentials=rds.Credentials.from_generated_secret(
                "compliance",
                secret_name="compliance/database",  # noqa: S106 - a name, not a value
                encryption_key=self.key,
                exclude_characters=URL_UNSAFE,
            ),
            storage_encrypted=True,
            storage_encryption_key=self.key,
            allocated_storage=100,
            max_allocated_storage=1000,
            storage_type=rds.StorageType.GP3,
            backup_retention=Duration.days(7),
            preferred_backup_window="02:00-03:00",
            deletion_protection=True,
            enable_performance_insights=True,
            performance_insight_encryption_key=self.key,
            iam_authentication=True,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            parameter_group=parameters,
            removal_policy=RemovalPolicy.SNAPSHOT,
        )

    def _generated_secret(self, construct_id: str, name: str, field: str, description: str) -> secretsmanager.Secret:
        """Secret ``compliance/<name>``: a JSON document whose ``field`` is 64 random letters and digits."""
        return secretsmanager.Secret(
            self,
            construct_id,
            secret_name=f"compliance/{name}",
            description=description,
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - the JSON document the key goes into
                generate_string_key=field,
                exclude_punctuation=True,
                password_length=64,
            ),
        )

    def _redis(self) -> tuple[secretsmanager.Secret, elasticache.CfnReplicationGroup]:
        secret = self._generated_secret(
            "RedisAuth", "redis", "auth_token", "ElastiCache AUTH token of compliance-redis"
        )
        self.redis_security_group = ec2.SecurityGroup(
            self, "RedisSecurityGroup", vpc=self.vpc, description="compliance-redis", allow_all_outbound=False
        )
        subnets = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description="compliance-redis data subnets",
            subnet_ids=self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        redis = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_id="compliance-redis",
            replication_group_description="ComplianceShield shared cache",
            engine="redis",
            engine_version="7.1",
            cache_node_type="cache.r7g.large",
            num_cache_clusters=2,
            multi_az_enabled=True,
            automatic_failover_enabled=True,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.key_id,
            auth_token=secret.secret_value_from_json("auth_token").unsafe_unwrap(),
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[self.redis_security_group.security_group_id],
            snapshot_retention_limit=7,
        )
        return secret, redis

    def _kafka(self) -> msk.CfnCluster:
        self.kafka_security_group = ec2.SecurityGroup(
            self, "KafkaSecurityGroup", vpc=self.vpc, description="compliance-msk", allow_all_outbound=False
        )
        broker_logs = self._log_group("KafkaBrokerLogs", "/aws/msk/compliance-msk")
        return msk.CfnCluster(
            self,
            "Kafka",
            cluster_name="compliance-msk",
            kafka_version="3.9.x",
            number_of_broker_nodes=3,
            broker_node_group_info=msk.CfnCluster.BrokerNodeGroupInfoProperty(
                instance_type="kafka.m7g.large",
                client_subnets=self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
                security_groups=[self.kafka_security_group.security_group_id],
                storage_info=msk.CfnCluster.StorageInfoProperty(
                    ebs_storage_info=msk.CfnCluster.EBSStorageInfoProperty(volume_size=500)
                ),
            ),
            encryption_info=msk.CfnCluster.EncryptionInfoProperty(
                encryption_at_rest=msk.CfnCluster.EncryptionAtRestProperty(data_volume_kms_key_id=self.key.key_arn),
                encryption_in_transit=msk.CfnCluster.EncryptionInTransitProperty(client_broker="TLS", in_cluster=True),
            ),
            client_authentication=msk.CfnCluster.ClientAuthenticationProperty(
                sasl=msk.CfnCluster.SaslProperty(iam=msk.CfnCluster.IamProperty(enabled=True)),
                unauthenticated=msk.CfnCluster.UnauthenticatedProperty(enabled=False),
            ),
            logging_info=msk.CfnCluster.LoggingInfoProperty(
                broker_logs=msk.CfnCluster.BrokerLogsProperty(
                    cloud_watch_logs=msk.CfnCluster.CloudWatchLogsProperty(
                        enabled=True, log_group=broker_logs.log_group_name
                    )
                )
            ),
            enhanced_monitoring="PER_TOPIC_PER_BROKER",
        )

    def _jwt_secret(self) -> tuple[secretsmanager.Secret, lambda_.Function]:
        secret = self._generated_secret("JwtSecret", "jwt", "JWT_SECRET", "HS256 key of the API's bearer tokens")
        rotation = lambda_.Function(
            self,
            "JwtRotation",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline((Path(__file__).parent / "rotate_jwt.py").read_text()),
            timeout=Duration.seconds(30),
            description="Rotates compliance/jwt",
        )
        secret.add_rotation_schedule("Rotation", rotation_lambda=rotation, automatically_after=Duration.days(90))
        return secret, rotation

    # -- compute --------------------------------------------------------------------------------

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        """A log group kept a year, encrypted with the stack's key, retained when the stack goes."""
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _environment(self) -> dict[str, str]:
        """Settings that are not secret (README "Environment")."""
        brokers = self.kafka_brokers.get_response_field("BootstrapBrokerStringSaslIam")
        return {
            "APP_ENV": "production",
            "LOG_LEVEL": "INFO",
            "HOST": "0.0.0.0",  # noqa: S104 - the task's own interface, behind the ALB
            "PORT": str(API_PORT),
            "KAFKA_BROKERS": brokers,
            "KAFKA_IDEMPOTENT_PRODUCER": "true",
            "DATABASE_POOL_SIZE": "20",
            "BLOCKCHAIN_TYPE": "permissioned",
        }

    def _secrets(self) -> dict[str, ecs.Secret]:
        db_secret = self.database.secret
        assert db_secret is not None
        return {
            "JWT_SECRET": ecs.Secret.from_secrets_manager(self.jwt_secret, "JWT_SECRET"),
            "DB_USER": ecs.Secret.from_secrets_manager(db_secret, "username"),
            "DB_PASSWORD": ecs.Secret.from_secrets_manager(db_secret, "password"),
            "REDIS_AUTH": ecs.Secret.from_secrets_manager(self.redis_secret, "auth_token"),
            **{
                name: ecs.Secret.from_secrets_manager(self.providers_secret, name)
                for name in ("BALLERINE_API_KEY", "BALLERINE_WEBHOOK_SECRET", "CHAINALYSIS_API_KEY", "MARBLE_API_KEY")
            },
        }

    def _command(self, *args: str) -> list[str]:
        """The image's command, with DATABASE_URL and REDIS_URL assembled from the injected secrets.

        ECS injects secrets one JSON field at a time; the service reads one URL each. The generated
        credentials contain no punctuation, so the URLs need no escaping.
        """
        db = f"{self.database.db_instance_endpoint_address}:{self.database.db_instance_endpoint_port}"
        redis = self.redis.attr_primary_end_point_address
        script = (
            f'export DATABASE_URL="postgresql://$DB_USER:$DB_PASSWORD@{db}/compliance_db?sslmode=require" '
            f'REDIS_URL="rediss://:$REDIS_AUTH@{redis}:6379/0"; '
            'unset DB_USER DB_PASSWORD REDIS_AUTH; exec compliance-shield "$@"'
        )
        return ["/bin/sh", "-c", script, "compliance-shield", *args]

    def _task(self, name: str, cpu: int, memory: int, *args: str, port: int | None = None) -> ecs.FargateTaskDefinition:
        task = ecs.FargateTaskDefinition(
            self,
            f"Task{name.title()}",
            family=f"compliance-{name}",
            cpu=cpu,
            memory_limit_mib=memory,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        container = task.add_container(
            "api" if name == "api" else name,
            image=ecs.ContainerImage.from_ecr_repository(self.repository, self.config.image_tag),
            entry_point=self._command(*args)[:3],
            command=self._command(*args)[3:],
            environment=self._environment(),
            secrets=self._secrets(),
            logging=ecs.LogDriver.aws_logs(
                stream_prefix=name, log_group=self._log_group(f"Logs{name.title()}", f"/aws/ecs/compliance-{name}")
            ),
            readonly_root_filesystem=True,
            user="10001:10001",
            stop_timeout=Duration.seconds(45),
            port_mappings=[ecs.PortMapping(container_port=port)] if port is not None else None,
        )
        self.task_definitions.append(task)
        task.add_volume(name="tmp")
        container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))  # noqa: S108
        # the Kafka clients authenticate to MSK with the task role (IAM)
        cluster_arn = self.kafka.attr_arn
        account_prefix = cdk.Fn.select(0, cdk.Fn.split(":cluster/", cluster_arn))
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
                resources=[cluster_arn],
            )
        )
        task.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=[
                    "kafka-cluster:DescribeTopic",
                    "kafka-cluster:CreateTopic",
                    "kafka-cluster:ReadData",
                    "kafka-cluster:WriteData",
                    "kafka-cluster:AlterGroup",
                    "kafka-cluster:DescribeGroup",
                ],
                # the cluster's topics and groups: arn:…:topic/<cluster name>/<cluster uuid>/<name>
                resources=[
                    cdk.Fn.join("", [account_prefix, f":{kind}/compliance-msk/*"]) for kind in ("topic", "group")
                ],
            )
        )
        return task

    def _allow_data_access(self, service: ecs.FargateService) -> None:
        service.connections.allow_to(self.database, ec2.Port.tcp(5432), "PostgreSQL")
        self.redis_security_group.add_ingress_rule(
            service.connections.security_groups[0], ec2.Port.tcp(6379), "Redis from the service"
        )
        service.connections.security_groups[0].add_egress_rule(self.redis_security_group, ec2.Port.tcp(6379), "Redis")
        self.kafka_security_group.add_ingress_rule(
            service.connections.security_groups[0], ec2.Port.tcp(9098), "MSK (TLS, IAM) from the service"
        )
        service.connections.security_groups[0].add_egress_rule(
            self.kafka_security_group, ec2.Port.tcp(9098), "MSK (TLS, IAM)"
        )

    def _api(self) -> ecs_patterns.ApplicationLoadBalancedFargateService:
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=self.config.hosted_zone_id, zone_name=self.config.domain_name
        )
        host = f"api.{self.config.domain_name}"
        certificate = acm.Certificate(
            self, "Certificate", domain_name=host, validation=acm.CertificateValidation.from_dns(zone)
        )
        service = ecs_patterns.ApplicationLoadBalancedFargateService(
            self,
            "Api",
            cluster=self.cluster,
            service_name="compliance-api",
            task_definition=self._task("api", 1024, 2048, "serve", port=API_PORT),
            desired_count=3,
            public_load_balancer=True,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificate=certificate,
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            redirect_http=True,
            domain_name=host,
            domain_zone=zone,
            task_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=Duration.seconds(120),
            load_balancer_name="compliance-alb",
        )
        service.load_balancer.log_access_logs(self.access_logs, prefix="alb")
        service.load_balancer.set_attribute("routing.http.drop_invalid_header_fields.enabled", "true")
        service.target_group.configure_health_check(
            path="/ready", healthy_http_codes="200", interval=Duration.seconds(10), healthy_threshold_count=2
        )
        # the group-commit writer drains within the task's stop timeout; ALB stops sending first
        service.target_group.set_attribute("deregistration_delay.timeout_seconds", "30")
        scaling = service.service.auto_scale_task_count(min_capacity=3, max_capacity=10)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70)
        scaling.scale_on_memory_utilization("Memory", target_utilization_percent=80)
        self._allow_data_access(service.service)
        return service

    def _workers(self) -> None:
        desired = {
            "relay": 2,  # one active (advisory lock), one standby
            "consumer": 3,  # consumer group compliance-consumer-group
            "oracle": self.config.oracle_desired_count,  # one sender per account (advisory lock)
            "indexer": self.config.indexer_desired_count,  # one at a time (cursor row lock)
        }
        for name in WORKERS:
            service = ecs.FargateService(
                self,
                f"Worker{name.title()}",
                cluster=self.cluster,
                service_name=f"compliance-{name}",
                task_definition=self._task(name, 512, 1024, "worker", name),
                desired_count=desired[name],
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
                min_healthy_percent=50,
            )
            self._allow_data_access(service)
        # the migration: `aws ecs run-task --task-definition compliance-migrate …` before each release
        self._task("migrate", 512, 1024, "migrate")

    # -- alarms ---------------------------------------------------------------------------------

    def _alarms(self) -> None:
        topic = sns.Topic(self, "Alarms", topic_name="compliance-alarms", master_key=self.key, enforce_ssl=True)
        if self.config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.config.alarm_email))
        # the guide's HighErrorRate (ALB, Sum over 60 s, > 100 for 2 periods), on server errors:
        # a compliance gate answers 4xx to bad input by design, so 4xx are not failures
        errors = self.api.load_balancer.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, statistic="Sum", period=Duration.seconds(60)
        )
        alarm = cloudwatch.Alarm(
            self,
            "HighErrorRate",
            alarm_name="HighErrorRate",
            alarm_description="Alert if the API answers more than 100 server errors a minute for 2 minutes",
            metric=errors,
            threshold=100,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        cdk.CfnOutput(self, "ApiUrl", value=f"https://api.{self.config.domain_name}")
        cdk.CfnOutput(self, "LoadBalancerDns", value=self.api.load_balancer.load_balancer_dns_name)
        cdk.CfnOutput(self, "DatabaseEndpoint", value=self.database.db_instance_endpoint_address)
        cdk.CfnOutput(self, "RedisEndpoint", value=self.redis.attr_primary_end_point_address)
        cdk.CfnOutput(self, "KafkaClusterArn", value=self.kafka.attr_arn)
        cdk.CfnOutput(self, "RepositoryUri", value=self.repository.repository_uri)
        cdk.CfnOutput(self, "BackupBucket", value=self.backups.bucket_name)
