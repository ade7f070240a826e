"""Secrets Manager rotation function of ``compliance/jwt``: a new random JWT_SECRET every rotation.

The four steps of the Secrets Manager rotation protocol. There is no service to update in
``setSecret``: the API reads JWT_SECRET when a task starts, so a rotation takes effect as tasks
are replaced (docs/operations.md: rotate, then force a new deployment). Deployed inline, so it
uses only the Lambda runtime's boto3.
"""

import json

import boto3

client = boto3.client("secretsmanager")


def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    versions = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if token not in versions:
        raise ValueError(f"version {token} is not a version of {arn}")
    if "AWSCURRENT" in versions[token]:
        return
    if step == "createSecret":
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except client.exceptions.ResourceNotFoundException:
            value = client.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
            client.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString=json.dumps({"JWT_SECRET": value}),
                VersionStages=["AWSPENDING"],
            )
    elif step == "testSecret":
        pending = json.loads(client.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"])
        if len(pending.get("JWT_SECRET", "")) < 32:
            raise ValueError("the pending JWT_SECRET is shorter than 32 characters")
    elif step == "finishSecret":
        current = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        client.update_secret_version_stage(
            SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
        )
    elif step != "setSecret":
        raise ValueError(f"unknown rotation step {step}")
