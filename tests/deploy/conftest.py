"""An AWS account in the emulator (moto over HTTP, reached through AWS_ENDPOINT_URL) for the
deploy tooling: bootstrap stack, the environment's stack and secret, the API Gateway role."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.emulator import DEFAULT_REGION, MotoServer, local_aws_environment, start_moto
from tools.deploy.preflight import BOOTSTRAP_STACK_NAME, BOOTSTRAP_VERSION_PARAMETER
from tools.deploy.secret_value import PLACEHOLDER_API_KEY, secret_document

# What a current `cdk bootstrap` writes (the pinned CLI's template says 33 here).
CURRENT_BOOTSTRAP_VERSION = "33"
CLOUDWATCH_ROLE_LOGICAL_ID = "ApiRestApiCloudWatchRoleB7879BFC"
_ASSUME_BY_API_GATEWAY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class Account:
    """One emulated account and region, reset for every test."""

    moto: MotoServer
    region: str = DEFAULT_REGION

    @property
    def environ(self) -> dict[str, str]:
        return local_aws_environment(self.moto.endpoint_url, self.region)

    def client(self, service: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=self.region
        )
        return session.client(service, endpoint_url=self.moto.endpoint_url)  # type: ignore[call-overload]

    def bootstrap(self, version: str = CURRENT_BOOTSTRAP_VERSION) -> None:
        """The CDKToolkit stack with its version parameter, as `cdk bootstrap` leaves them."""
        template = {
            "Resources": {
                "CdkBootstrapVersion": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {
                        "Name": BOOTSTRAP_VERSION_PARAMETER,
                        "Type": "String",
                        "Value": version,
                    },
                }
            }
        }
        self.client("cloudformation").create_stack(
            StackName=BOOTSTRAP_STACK_NAME, TemplateBody=json.dumps(template)
        )

    def create_secret(self, name: str, key: str = PLACEHOLDER_API_KEY) -> str:
        created = self.client("secretsmanager").create_secret(
            Name=name, SecretString=secret_document(key)
        )
        return str(created["ARN"])

    def deploy_stack(
        self,
        stack_name: str,
        *,
        outputs: dict[str, str],
        cloudwatch_role: bool = False,
        termination_protection: bool = False,
    ) -> None:
        """A stand-in for the environment's deployed stack: its outputs (and the role)."""
        resources: dict[str, Any] = {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
        if cloudwatch_role:
            resources[CLOUDWATCH_ROLE_LOGICAL_ID] = {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": _ASSUME_BY_API_GATEWAY},
            }
        template = {
            "Resources": resources,
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        self.client("cloudformation").create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(template),
            EnableTerminationProtection=termination_protection,
        )
        if cloudwatch_role:
            summaries = self.client("cloudformation").list_stack_resources(StackName=stack_name)
            (role,) = (
                summary["PhysicalResourceId"]
                for summary in summaries["StackResourceSummaries"]
                if summary["LogicalResourceId"] == CLOUDWATCH_ROLE_LOGICAL_ID
            )
            self.set_cloudwatch_role(self.client("iam").get_role(RoleName=role)["Role"]["Arn"])

    def set_cloudwatch_role(self, role_arn: str) -> None:
        self.client("apigateway").update_account(
            patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
        )

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.moto.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


@pytest.fixture(scope="session")
def deploy_moto() -> Iterator[MotoServer]:
    with start_moto() as server:
        yield server


@pytest.fixture
def account(deploy_moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    """An empty emulated account; boto3 in this process and in child processes reaches it."""
    emulated = Account(deploy_moto)
    emulated.reset()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in emulated.environ.items():
        monkeypatch.setenv(name, value)
    yield emulated
    emulated.reset()
