"""The operator's AWS session, the stack's state and outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.config import EnvironmentConfig, cdk_json_context, load_environment

# Generous but bounded: an operator's terminal, not a request path.
CLIENT_CONFIG: Final = Config(
    connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
)
# CloudFormation's states after a create that failed: the CLI deletes such a stack and creates
# it anew on the next deploy (REVIEW_IN_PROGRESS: a change set was made, never executed).
CREATE_FAILED_STATES: Final = frozenset({"ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"})


class DeployError(Exception):
    """A step cannot go on; the message says what to do."""


def environment(name: str) -> EnvironmentConfig:
    """The validated settings of environment ``name`` from cdk.json (no jsii start-up)."""
    return load_environment(cdk_json_context(), name)


def session() -> boto3.session.Session:
    """The operator's credentials and region, as the AWS CLI and the CDK CLI would find them."""
    current = boto3.session.Session()
    if not current.region_name:
        raise DeployError(
            "no AWS region configured: set AWS_REGION (or a region in your AWS profile)"
        )
    return current


def client(current: boto3.session.Session, service: str) -> Any:
    return current.client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


@dataclass(frozen=True)
class StackState:
    """A CloudFormation stack as DescribeStacks reports it (None fields: no such stack)."""

    name: str
    status: str | None
    termination_protection: bool
    outputs: dict[str, str]

    @property
    def exists(self) -> bool:
        return self.status is not None

    @property
    def creation_failed(self) -> bool:
        return self.status in CREATE_FAILED_STATES


def describe_stack(cloudformation: Any, stack_name: str) -> StackState:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        # DescribeStacks says "does not exist" as a ValidationError.
        if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
            return StackState(stack_name, None, termination_protection=False, outputs={})
        raise
    stack = stacks[0]
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in stack.get("Outputs", [])
        if "OutputKey" in output and "OutputValue" in output
    }
    return StackState(
        name=stack_name,
        status=stack["StackStatus"],
        termination_protection=bool(stack.get("EnableTerminationProtection", False)),
        outputs=outputs,
    )
