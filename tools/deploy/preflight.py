"""`make preflight ENV=<name>`: checks the target account before anything is deployed.

Each check reads the account with the operator's credentials (nothing is changed) and, when it
fails, says what to do. Exit status 0: every check passed; 1: at least one failed; 2: the
environment or the AWS setup could not be read at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigurationError, EnvironmentConfig
from infra.regions import snap_start_offered, snap_start_refusal
from tools.deploy.aws import (
    DeployError,
    StackState,
    client,
    describe_stack,
    environment,
    session,
)
from tools.deploy.secret_value import is_placeholder

# Lambda refuses a reservation that leaves fewer than this many executions unreserved.
UNRESERVED_CONCURRENCY_MINIMUM: Final = 100
# The CDK's default bootstrap qualifier and where the bootstrap stack records its version.
BOOTSTRAP_STACK_NAME: Final = "CDKToolkit"
BOOTSTRAP_VERSION_PARAMETER: Final = "/cdk-bootstrap/hnb659fds/version"
# The bootstrap version this app's stacks need: the highest requiresBootstrapStackVersion in
# the cloud assembly (deploy roles 6, lookup role 8); tests/infra keeps it at least that.
MIN_BOOTSTRAP_VERSION: Final = 8
# The logical id prefix of the CloudWatch Logs role the owning environment creates.
CLOUDWATCH_ROLE_LOGICAL_ID_PREFIX: Final = "ApiRestApiCloudWatchRole"
# Stack states another deploy cannot start from, and what to do about each.
_STUCK_STATES: Final = {
    "ROLLBACK_FAILED": "delete it (aws cloudformation delete-stack --stack-name {stack}), "
    "retaining what the error names if asked, then make deploy again",
    "DELETE_FAILED": "look at the stack's events, fix what blocked the delete, delete it again",
    "UPDATE_ROLLBACK_FAILED": "aws cloudformation continue-update-rollback --stack-name {stack}",
}


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Clients:
    """One boto3 client per service preflight reads (tests stub Lambda: moto lacks it)."""

    lambda_: Any
    cloudformation: Any
    ssm: Any
    apigateway: Any
    secretsmanager: Any


def check_concurrency(config: EnvironmentConfig, lambda_: Any, stack: StackState) -> Finding:
    name = "Lambda concurrency"
    wanted = config.reserved_concurrency
    if wanted is None:
        return Finding(name, True, "the environment reserves no concurrency")
    limits = lambda_.get_account_settings()["AccountLimit"]
    unreserved = int(limits["UnreservedConcurrentExecutions"])
    # An existing function's reservation is already outside the unreserved pool.
    current = 0
    function_name = stack.outputs.get("FunctionName")
    if function_name:
        try:
            current = int(
                lambda_.get_function_concurrency(FunctionName=function_name).get(
                    "ReservedConcurrentExecutions", 0
                )
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
    available = unreserved + current
    needed = wanted + UNRESERVED_CONCURRENCY_MINIMUM
    if available >= needed:
        return Finding(name, True, f"{available} unreserved, {needed} needed")
    return Finding(
        name,
        False,
        f"reservedConcurrency {wanted} needs {needed} unreserved concurrent executions "
        f"(Lambda keeps {UNRESERVED_CONCURRENCY_MINIMUM} unreserved); the account has "
        f"{available} (quota {limits.get('ConcurrentExecutions', '?')})",
        "ask for a higher 'Concurrent executions' quota (Service Quotas, AWS Lambda, "
        f"L-B99A9384) or set reservedConcurrency for {config.name!r} in cdk.json to null or at "
        f"most {max(available - UNRESERVED_CONCURRENCY_MINIMUM, 0)}",
    )


def check_snap_start(config: EnvironmentConfig, region: str) -> Finding:
    name = "SnapStart region"
    if not config.snap_start:
        return Finding(name, True, "the environment does not use SnapStart")
    if snap_start_offered(region):
        return Finding(name, True, f"SnapStart is offered in {region}")
    return Finding(name, False, snap_start_refusal(region), "see above")


def check_bootstrap(cloudformation: Any, ssm: Any) -> Finding:
    name = "CDK bootstrap"
    fix = "make bootstrap ENV=<name> (once per account and region)"
    toolkit = describe_stack(cloudformation, BOOTSTRAP_STACK_NAME)
    if not toolkit.exists or toolkit.creation_failed:
        return Finding(name, False, f"no usable {BOOTSTRAP_STACK_NAME} stack in the region", fix)
    try:
        raw = ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            raise
        return Finding(name, False, f"{BOOTSTRAP_VERSION_PARAMETER} is missing", fix)
    version = int(raw) if str(raw).isdigit() else 0
    if version < MIN_BOOTSTRAP_VERSION:
        return Finding(
            name,
            False,
            f"bootstrap version {raw} is older than the {MIN_BOOTSTRAP_VERSION} this app needs",
            fix + " upgrades it in place",
        )
    return Finding(name, True, f"{BOOTSTRAP_STACK_NAME} version {version}")


def _stack_role_name(cloudformation: Any, stack: StackState) -> str | None:
    """The physical name of the CloudWatch role this environment's stack created, if any."""
    if not stack.exists:
        return None
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack.name):
        for resource in page.get("StackResourceSummaries", []):
            logical_id = str(resource.get("LogicalResourceId", ""))
            if resource.get("ResourceType") == "AWS::IAM::Role" and logical_id.startswith(
                CLOUDWATCH_ROLE_LOGICAL_ID_PREFIX
            ):
                physical = resource.get("PhysicalResourceId")
                return str(physical) if physical else None
    return None


def check_api_gateway_account(
    config: EnvironmentConfig, apigateway: Any, cloudformation: Any, stack: StackState
) -> Finding:
    name = "API Gateway CloudWatch role"
    role_arn = apigateway.get_account().get("cloudwatchRoleArn")
    if not config.manage_api_gateway_account:
        if role_arn:
            return Finding(name, True, f"set for the account ({role_arn})")
        return Finding(
            name,
            False,
            "the account has no API Gateway CloudWatch Logs role, and this environment does "
            "not manage it (manageApiGatewayAccount false): its stage could not log",
            "deploy the environment whose manageApiGatewayAccount is true to this account and "
            "region first, or set a role by hand: aws apigateway update-account "
            "--patch-operations op=replace,path=/cloudwatchRoleArn,value=<role ARN> "
            "(docs/deploy.md, API Gateway account role)",
        )
    if not role_arn:
        return Finding(name, True, "not set yet: this environment's stack will set it")
    own_role = _stack_role_name(cloudformation, stack)
    if own_role and role_arn.rsplit("/", 1)[-1] == own_role:
        return Finding(name, True, "set by this environment's stack")
    return Finding(
        name,
        False,
        f"the account's role is already set ({role_arn}) by something other than this "
        "environment's stack; deploying would take it over (the last deploy wins)",
        f"if that role serves the account well, set manageApiGatewayAccount false for "
        f"{config.name!r} in cdk.json and true for an environment in an account without one "
        "(docs/deploy.md, API Gateway account role)",
    )


def check_secret(config: EnvironmentConfig, secretsmanager: Any, stack: StackState) -> Finding:
    name = "ProxStop key secret"
    secret_id = stack.outputs.get("SecretArn")
    if secret_id is None and config.secret.create:
        return Finding(
            name, True, "created with a placeholder by the deploy: then make put-key ENV=<name>"
        )
    secret_id = secret_id or config.secret.name
    try:
        value = secretsmanager.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return Finding(
            name,
            False,
            f"secret {secret_id} does not exist (secret.create is false: it is imported)",
            "create it first, or set secret.create to true in cdk.json",
        )
    if is_placeholder(str(value.get("SecretString", ""))):
        return Finding(
            name,
            False,
            "the secret still holds the placeholder: the API answers 503 NOT_CONFIGURED",
            f"make put-key ENV={config.name}",
        )
    return Finding(name, True, "holds a key (not the placeholder)")


def check_stack_state(config: EnvironmentConfig, stack: StackState) -> Finding:
    name = "stack state"
    if not stack.exists:
        return Finding(name, True, f"{stack.name} does not exist yet: the deploy creates it")
    status = str(stack.status)
    if stack.creation_failed and stack.termination_protection:
        return Finding(
            name,
            False,
            f"{stack.name} is {status} after a failed create and has termination protection, "
            "so the next deploy cannot delete it to create it again",
            "aws cloudformation update-termination-protection "
            f"--no-enable-termination-protection --stack-name {stack.name}; then make deploy "
            f"ENV={config.name}",
        )
    if status in _STUCK_STATES:
        return Finding(
            name, False, f"{stack.name} is {status}", _STUCK_STATES[status].format(stack=stack.name)
        )
    if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        return Finding(name, False, f"{stack.name} is {status}", "wait for it to finish")
    return Finding(name, True, f"{stack.name} is {status}")


def run_checks(config: EnvironmentConfig, clients: Clients, region: str) -> list[Finding]:
    stack = describe_stack(clients.cloudformation, config.stack_name)
    checks: list[Callable[[], Finding]] = [
        lambda: check_stack_state(config, stack),
        lambda: check_bootstrap(clients.cloudformation, clients.ssm),
        lambda: check_concurrency(config, clients.lambda_, stack),
        lambda: check_snap_start(config, region),
        lambda: check_api_gateway_account(
            config, clients.apigateway, clients.cloudformation, stack
        ),
        lambda: check_secret(config, clients.secretsmanager, stack),
    ]
    return [check() for check in checks]


def clients_for(current: Any) -> Clients:
    return Clients(
        lambda_=client(current, "lambda"),
        cloudformation=client(current, "cloudformation"),
        ssm=client(current, "ssm"),
        apigateway=client(current, "apigateway"),
        secretsmanager=client(current, "secretsmanager"),
    )


def report(findings: Sequence[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{'ok  ' if finding.ok else 'FAIL'} {finding.check}: {finding.detail}")
        if not finding.ok and finding.fix:
            lines.append(f"     fix: {finding.fix}")
    return "\n".join(lines)


def preflight(env_name: str, clients: Clients | None = None, region: str | None = None) -> int:
    """Runs every check for ``env_name``, prints the report; the exit status."""
    try:
        config = environment(env_name)
        current = session()
        findings = run_checks(
            config, clients or clients_for(current), region or str(current.region_name)
        )
    except (ConfigurationError, DeployError) as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"preflight: cannot read the account: {error}", file=sys.stderr)
        return 2
    print(f"preflight for {config.stack_name} in {region or current.region_name}:")
    print(report(findings))
    return 0 if all(finding.ok for finding in findings) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name in cdk.json")
    args = parser.parse_args(argv)
    return preflight(args.env)


if __name__ == "__main__":
    sys.exit(main())
