"""Preflight against an emulated account: passes on a well-set one, and on each broken one
fails with what to do. moto answers CloudFormation, SSM, API Gateway and Secrets Manager;
Lambda's GetAccountSettings it does not (404), so that call goes through botocore's Stubber."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from botocore.stub import Stubber

from infra.config import EnvironmentConfig
from tests.deploy.conftest import Account
from tools.deploy.aws import StackState, environment
from tools.deploy.preflight import (
    Clients,
    Finding,
    check_stack_state,
    run_checks,
)

PROD = environment("prod")
DEV = environment("dev")
ROOT_MAKE = ["make", "--no-print-directory"]


def _clients(account: Account, lambda_: Any) -> Clients:
    return Clients(
        lambda_=lambda_,
        cloudformation=account.client("cloudformation"),
        ssm=account.client("ssm"),
        apigateway=account.client("apigateway"),
        secretsmanager=account.client("secretsmanager"),
    )


def _stubbed_lambda(account: Account, *, unreserved: int, quota: int = 1000) -> Stubber:
    stubber = Stubber(account.client("lambda"))
    stubber.add_response(
        "get_account_settings",
        {
            "AccountLimit": {
                "ConcurrentExecutions": quota,
                "UnreservedConcurrentExecutions": unreserved,
            }
        },
    )
    return stubber


def _run(
    account: Account,
    config: EnvironmentConfig,
    stubber: Stubber | None = None,
    region: str | None = None,
) -> dict[str, Finding]:
    lambda_ = stubber.client if stubber is not None else account.client("lambda")
    if stubber is not None:
        stubber.activate()
    findings = run_checks(config, _clients(account, lambda_), region or account.region)
    if stubber is not None:
        stubber.assert_no_pending_responses()
    return {finding.check: finding for finding in findings}


def _failed(findings: dict[str, Finding]) -> dict[str, Finding]:
    return {name: finding for name, finding in findings.items() if not finding.ok}


def _reserving(config: EnvironmentConfig, reserved: int) -> EnvironmentConfig:
    return config.model_copy(update={"reserved_concurrency": reserved})


def test_well_set_account_passes_every_check(account: Account) -> None:
    account.bootstrap()
    findings = _run(account, _reserving(PROD, 50), _stubbed_lambda(account, unreserved=1000))
    assert len(findings) == 6
    assert _failed(findings) == {}
    assert "this environment's stack will set it" in findings["API Gateway CloudWatch role"].detail


def test_low_unreserved_concurrency_fails_with_the_quota_to_ask_for(account: Account) -> None:
    account.bootstrap()
    # A new account: quota 100, all of it unreserved, and Lambda keeps 100 of it unreserved.
    findings = _run(
        account, _reserving(PROD, 50), _stubbed_lambda(account, unreserved=100, quota=100)
    )
    assert set(_failed(findings)) == {"Lambda concurrency"}
    failure = findings["Lambda concurrency"]
    assert "needs 150" in failure.detail
    assert "has 100" in failure.detail
    assert "Concurrent executions" in failure.fix
    assert "reservedConcurrency" in failure.fix


def test_the_reservation_limit_is_exactly_reserved_plus_100(account: Account) -> None:
    account.bootstrap()
    findings = _run(account, _reserving(PROD, 50), _stubbed_lambda(account, unreserved=150))
    assert findings["Lambda concurrency"].ok
    account.reset()
    account.bootstrap()
    findings = _run(account, _reserving(PROD, 50), _stubbed_lambda(account, unreserved=149))
    assert not findings["Lambda concurrency"].ok


def test_no_reservation_does_not_ask_lambda(account: Account) -> None:
    account.bootstrap()
    assert PROD.reserved_concurrency is None
    # An active Stubber without responses raises on any call.
    stubber = Stubber(account.client("lambda"))
    findings = _run(account, PROD, stubber)
    assert findings["Lambda concurrency"].ok


def test_missing_bootstrap_fails_and_says_make_bootstrap(account: Account) -> None:
    findings = _run(account, PROD)
    assert set(_failed(findings)) == {"CDK bootstrap"}
    assert "CDKToolkit" in findings["CDK bootstrap"].detail
    assert "make bootstrap" in findings["CDK bootstrap"].fix


def test_old_bootstrap_version_fails(account: Account) -> None:
    account.bootstrap(version="6")
    findings = _run(account, PROD)
    assert set(_failed(findings)) == {"CDK bootstrap"}
    assert "version 6 is older" in findings["CDK bootstrap"].detail
    assert "make bootstrap" in findings["CDK bootstrap"].fix


@pytest.mark.parametrize("region", ["ap-east-2", "ap-southeast-6", "cn-north-1"])
def test_snap_start_where_it_is_not_offered_fails(account: Account, region: str) -> None:
    account.bootstrap()
    assert PROD.snap_start
    findings = _run(account, PROD, region=region)
    assert set(_failed(findings)) == {"SnapStart region"}
    assert region in findings["SnapStart region"].detail
    assert '"snapStart": false' in findings["SnapStart region"].detail
    # dev does not use SnapStart: the same region is fine for it.
    account.set_cloudwatch_role("arn:aws:iam::123456789012:role/api-gateway-logs")
    assert _failed(_run(account, DEV, region=region)) == {}


def test_placeholder_secret_of_a_deployed_stack_fails_with_put_key(account: Account) -> None:
    account.bootstrap()
    secret_arn = account.create_secret("telephone-status/prod/proxstop-api-key-abc")
    account.deploy_stack(PROD.stack_name, outputs={"SecretArn": secret_arn}, cloudwatch_role=True)
    findings = _run(account, PROD)
    assert set(_failed(findings)) == {"ProxStop key secret"}
    assert findings["ProxStop key secret"].fix == "make put-key ENV=prod"
    # Once the key is in, the same account passes.
    account.client("secretsmanager").put_secret_value(
        SecretId=secret_arn, SecretString='{"apiKey": "a-real-key"}'
    )
    assert _failed(_run(account, PROD)) == {}


def test_imported_secret_must_exist(account: Account) -> None:
    account.bootstrap()
    imported = PROD.model_copy(update={"secret": PROD.secret.model_copy(update={"create": False})})
    findings = _run(account, imported)
    assert set(_failed(findings)) == {"ProxStop key secret"}
    assert "does not exist" in findings["ProxStop key secret"].detail


def test_role_not_set_and_not_owned_by_this_environment_fails(account: Account) -> None:
    account.bootstrap()
    assert not DEV.manage_api_gateway_account
    findings = _run(account, DEV)
    assert set(_failed(findings)) == {"API Gateway CloudWatch role"}
    fix = findings["API Gateway CloudWatch role"].fix
    assert "manageApiGatewayAccount" in fix
    assert "update-account" in fix
    # Set by the owning environment (or by hand): dev passes.
    account.set_cloudwatch_role("arn:aws:iam::123456789012:role/api-gateway-logs")
    assert _failed(_run(account, DEV)) == {}


def test_owner_refuses_to_take_over_a_role_set_by_something_else(account: Account) -> None:
    account.bootstrap()
    account.set_cloudwatch_role("arn:aws:iam::123456789012:role/someone-elses-logging-role")
    findings = _run(account, PROD)
    assert set(_failed(findings)) == {"API Gateway CloudWatch role"}
    assert "someone-elses-logging-role" in findings["API Gateway CloudWatch role"].detail


def test_owner_accepts_the_role_its_own_stack_set(account: Account) -> None:
    account.bootstrap()
    secret_arn = account.create_secret("prod-secret", key="a-real-key")
    account.deploy_stack(PROD.stack_name, outputs={"SecretArn": secret_arn}, cloudwatch_role=True)
    findings = _run(account, PROD)
    assert _failed(findings) == {}
    assert findings["API Gateway CloudWatch role"].detail == "set by this environment's stack"


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"])
def test_failed_create_with_termination_protection_says_how_to_retry(status: str) -> None:
    # moto cannot make a create fail and roll back: the decision on the described state.
    stuck = StackState(PROD.stack_name, status, termination_protection=True, outputs={})
    finding = check_stack_state(PROD, stuck)
    assert not finding.ok
    assert "--no-enable-termination-protection" in finding.fix
    assert PROD.stack_name in finding.fix
    retryable = StackState(PROD.stack_name, status, termination_protection=False, outputs={})
    assert check_stack_state(PROD, retryable).ok


def _make(target: str, env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ROOT_MAKE, target, f"ENV={env}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_preflight_against_the_emulator(account: Account) -> None:
    """The command the README gives, run as written: fails on a fresh account, passes once
    it is bootstrapped (prod reserves nothing, owns the role, has no stack yet)."""
    broken = _make("preflight", "prod")
    assert broken.returncode != 0, broken.stdout
    assert "FAIL CDK bootstrap" in broken.stdout
    assert "fix: make bootstrap" in broken.stdout
    account.bootstrap()
    passed = _make("preflight", "prod")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "FAIL" not in passed.stdout
