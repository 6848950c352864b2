"""cdk-nag (AwsSolutions) and cfn-lint over every synthesised environment."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.infra.infra_synth import SynthesizedApp, SynthesizedEnvironment

pytestmark = pytest.mark.xdist_group("infra")

ROUTED_METHOD_PATHS = {
    f"Api/RestApi/Default/v1/telephone-status/{verb}/Resource" for verb in ("GET", "POST", "ANY")
}
# Every finding acknowledged in code, by rule and by the construct (path below the stack) it is
# acknowledged on. A new finding fails synthesis; a new acknowledgement has to be added here,
# so that suppressions stay deliberate. The reasons are asserted to be present below.
EXPECTED_ACKNOWLEDGEMENTS = {
    "AwsSolutions-SMG4": {"ApiKeySecret/Secret/Resource"},
    "AwsSolutions-DDB3": {"Attempts/Table/Resource"},
    # python3.12 chosen by cold-start figures over the newest runtime (infra/function.py).
    "AwsSolutions-L1": {"TelephoneStatus/Function/Resource"},
    "AwsSolutions-IAM5[Resource::*]": {"TelephoneStatus/Role/DefaultPolicy/Resource"},
    "AwsSolutions-APIG4": {
        f"Api/RestApi/Default/v1/telephone-status/{verb}/Resource"
        for verb in ("GET", "POST", "ANY", "OPTIONS")
    }
    | {
        f"Api/RestApi/Default/v1/verifications/{verb}/Resource"
        for verb in ("POST", "ANY", "OPTIONS")
    }
    | {f"Api/RestApi/Default/v1/jwks.json/{verb}/Resource" for verb in ("GET", "ANY")},
    # OPTIONS has authorization type NONE explicitly, which COG4 does not flag.
    "AwsSolutions-COG4": {
        f"Api/RestApi/Default/v1/telephone-status/{verb}/Resource"
        for verb in ("GET", "POST", "ANY")
    }
    | {f"Api/RestApi/Default/v1/verifications/{verb}/Resource" for verb in ("POST", "ANY")}
    | {f"Api/RestApi/Default/v1/jwks.json/{verb}/Resource" for verb in ("GET", "ANY")},
}
# Only in the environment that owns the account-wide API Gateway CloudWatch Logs role.
CLOUDWATCH_ROLE_ACKNOWLEDGEMENT = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AmazonAPIGatewayPushToCloudWatchLogs]",
    "Api/RestApi/CloudWatchRole/Resource",
)
# Only where WAF is switched off in cdk.json.
WAF_ACKNOWLEDGEMENT = ("AwsSolutions-APIG3", "Api/RestApi/DeploymentStage.{env}/Resource")


def test_cdk_nag_ran_and_reports_no_open_finding(synthesized: SynthesizedApp) -> None:
    reports = {
        report["pluginName"]: report for report in synthesized.validation_report["pluginReports"]
    }
    # Present at all: proves the plugin ran (synth itself fails on open findings).
    aws_solutions = reports["AwsSolutions"]
    assert aws_solutions["conclusion"] == "success"
    assert aws_solutions["violations"] == []


def test_cdk_nag_acknowledgements_are_the_expected_ones_with_reasons(
    env: SynthesizedEnvironment, synthesized: SynthesizedApp
) -> None:
    [aws_solutions] = [
        report
        for report in synthesized.validation_report["pluginReports"]
        if report["pluginName"] == "AwsSolutions"
    ]
    stack_prefix = f"{env.stack.stack_name}/"
    acknowledged: dict[str, set[str]] = defaultdict(set)
    for violation in aws_solutions["suppressedViolations"]:
        paths = {
            construct["constructPath"].removeprefix(stack_prefix)
            for construct in violation["violatingConstructs"]
            if construct["constructPath"].startswith(stack_prefix)
        }
        if not paths:
            continue
        assert violation["acknowledgedId"] == f"AwsSolutions::{violation['ruleName']}"
        assert len(violation["reason"]) >= 40, violation["ruleName"]  # a real reason
        acknowledged[violation["ruleName"]] |= paths

    expected = {rule: set(paths) for rule, paths in EXPECTED_ACKNOWLEDGEMENTS.items()}
    if env.config.manage_api_gateway_account:
        rule, path = CLOUDWATCH_ROLE_ACKNOWLEDGEMENT
        expected[rule] = {path}
    if not env.config.waf.enabled:
        rule, path = WAF_ACKNOWLEDGEMENT
        expected[rule] = {path.format(env=env.config.name)}
    assert dict(acknowledged) == expected


def test_cfn_lint_accepts_the_template(env: SynthesizedEnvironment) -> None:
    # cfn-lint ships no type information; imported here to keep test collection light.
    from cfnlint.api import lint_file  # type: ignore[import-untyped]  # noqa: PLC0415

    matches = lint_file(env.template_path)
    assert [str(match) for match in matches] == []
