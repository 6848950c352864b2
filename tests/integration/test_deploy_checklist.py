"""The README's first-deploy checklist, run as written against the emulator.

moto plays the account (the stack's outputs, its secret, the API key, the bootstrap stack)
and the local server plays the deployed API (the real handler, its secret in moto, the
ProxStop sandbox upstream): `make preflight`, `make smoke` before the key (503
NOT_CONFIGURED), `make put-key` reading the key from standard input, `make smoke` after (a
well-formed answer from ProxStop). `make deploy` itself needs the real CDK CLI and AWS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.sandbox import DEFAULT_KEY
from local.server import LocalApiServer, serve
from tests.integration.conftest import FunctionEnv, _reset_cold_start_state
from tools.deploy.aws import environment
from tools.deploy.preflight import BOOTSTRAP_STACK_NAME, BOOTSTRAP_VERSION_PARAMETER
from tools.deploy.secret_value import PLACEHOLDER_API_KEY, secret_document

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ROOT = Path(__file__).resolve().parents[2]
PROD = environment("prod")


def _client(function_env: FunctionEnv, service: str) -> object:
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=function_env.region,
    ).client(service, endpoint_url=function_env.moto.endpoint_url)  # type: ignore[call-overload]


@dataclass
class Account:
    """The emulated account, bootstrapped, and the local server standing in for the API."""

    server: LocalApiServer
    template: dict[str, Any]

    def deploy_stack(self, function_env: FunctionEnv) -> None:
        _client(function_env, "cloudformation").create_stack(  # type: ignore[attr-defined]
            StackName=PROD.stack_name, TemplateBody=json.dumps(self.template)
        )


@pytest.fixture
def account(function_env: FunctionEnv) -> Iterator[Account]:
    """A bootstrapped account; prod's secret (read by the function) holds the placeholder as
    a fresh deploy leaves it; the template of prod's stack points at the local server."""
    cloudformation = _client(function_env, "cloudformation")
    secrets = _client(function_env, "secretsmanager")
    apigateway = _client(function_env, "apigateway")
    secret_arn = secrets.describe_secret(SecretId=function_env.secret_name)["ARN"]  # type: ignore[attr-defined]
    function_env.put_secret(json.dumps({"apiKey": PLACEHOLDER_API_KEY}))
    _reset_cold_start_state()
    api_key_id = apigateway.create_api_key(  # type: ignore[attr-defined]
        name="telephone-status-prod",
        enabled=True,
        value=f"a-client-api-key-{function_env.secret_name[-12:]}",  # one per test (moto)
    )["id"]
    server = serve(0, quiet=True)
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            "ApiUrl": {"Value": f"{server.url}/v1/telephone-status"},
            "SecretArn": {"Value": secret_arn},
            "ApiKeyId": {"Value": api_key_id},
        },
    }
    bootstrap = {
        "Resources": {
            "CdkBootstrapVersion": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": BOOTSTRAP_VERSION_PARAMETER,
                    "Type": "String",
                    "Value": "33",
                },
            }
        }
    }
    cloudformation.create_stack(StackName=BOOTSTRAP_STACK_NAME, TemplateBody=json.dumps(bootstrap))  # type: ignore[attr-defined]
    try:
        yield Account(server, template)
    finally:
        server.stop()
        apigateway.delete_api_key(apiKey=api_key_id)  # type: ignore[attr-defined]
        if PROD.stack_name in [
            stack["StackName"]
            for stack in cloudformation.describe_stacks()["Stacks"]  # type: ignore[attr-defined]
        ]:
            cloudformation.delete_stack(StackName=PROD.stack_name)  # type: ignore[attr-defined]
        # Deleting the bootstrap stack deletes its version parameter with it.
        cloudformation.delete_stack(StackName=BOOTSTRAP_STACK_NAME)  # type: ignore[attr-defined]


@pytest.fixture
def deployed(account: Account, function_env: FunctionEnv) -> LocalApiServer:
    """prod deployed: its stack's outputs point at the local server and the secret."""
    account.deploy_stack(function_env)
    return account.server


def _make(
    target: str, stdin: str | None = None, *variables: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", target, f"ENV={PROD.name}", *variables],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Into the test's captured output: the integration suite's leak check reads it, so a key
    # in any of these lines fails the test.
    print(result.stdout, result.stderr)
    return result


def test_first_deploy_checklist_against_the_emulator(
    deployed: LocalApiServer, function_env: FunctionEnv
) -> None:
    before_key = _make("smoke")
    assert before_key.returncode == 0, before_key.stdout + before_key.stderr
    assert "503 NOT_CONFIGURED" in before_key.stdout

    preflight = _make("preflight")
    assert preflight.returncode != 0
    assert "FAIL ProxStop key secret" in preflight.stdout
    assert "fix: make put-key ENV=prod" in preflight.stdout

    put = _make("put-key", stdin=f"{DEFAULT_KEY}\n")
    assert put.returncode == 0, put.stderr
    assert DEFAULT_KEY not in put.stdout + put.stderr
    stored = _client(function_env, "secretsmanager").get_secret_value(  # type: ignore[attr-defined]
        SecretId=function_env.secret_name
    )
    assert stored["SecretString"] == secret_document(DEFAULT_KEY)

    # A deployed function re-reads a placeholder secret within a minute; here, a new instance.
    _reset_cold_start_state()
    after_key = _make("smoke")
    assert after_key.returncode == 0, after_key.stdout + after_key.stderr
    assert "ProxStop answered" in after_key.stdout

    preflight = _make("preflight")
    assert preflight.returncode == 0, preflight.stdout + preflight.stderr


def test_put_key_refuses_what_is_no_key(
    deployed: LocalApiServer, function_env: FunctionEnv
) -> None:
    for typed in ("\n", "two words\n", f"{PLACEHOLDER_API_KEY}\n"):
        refused = _make("put-key", stdin=typed)
        assert refused.returncode != 0
        assert "put-key:" in refused.stderr
    stored = _client(function_env, "secretsmanager").get_secret_value(  # type: ignore[attr-defined]
        SecretId=function_env.secret_name
    )
    assert stored["SecretString"] == json.dumps({"apiKey": PLACEHOLDER_API_KEY})


def test_smoke_fails_when_the_key_is_refused(
    deployed: LocalApiServer, function_env: FunctionEnv
) -> None:
    put = _make("put-key", stdin="not-the-key-proxstop-knows\n")
    assert put.returncode == 0, put.stderr
    _reset_cold_start_state()
    smoke = _make("smoke")
    assert smoke.returncode != 0
    assert "UPSTREAM_REJECTED" in smoke.stdout


def test_make_deploy_creates_without_protection_then_protects_then_smokes(
    account: Account, function_env: FunctionEnv, tmp_path: Path
) -> None:
    """`make deploy` with the CDK CLI replaced by a recorder that creates the stack in the
    emulator: preflight, the create with -c firstCreate=true (so a failed create stays
    deletable), a second deploy that switches protection on, then the smoke test."""
    log = tmp_path / "cdk-calls.jsonl"
    template = tmp_path / "template.json"
    template.write_text(json.dumps(account.template), encoding="utf-8")
    function_env.monkeypatch.setenv("FAKE_CDK_LOG", str(log))
    function_env.monkeypatch.setenv("FAKE_CDK_TEMPLATE", str(template))
    fake_cdk = f"{sys.executable} {Path(__file__).with_name('fake_cdk.py')}"
    deploy = _make("deploy", None, f"CDK={fake_cdk}", "CDK_ARGS=--require-approval never")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "preflight for TelephoneStatus-prod" in deploy.stdout
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert calls == [
        ["deploy", "-c", "env=prod", "-c", "firstCreate=true", "--require-approval", "never"],
        ["deploy", "-c", "env=prod", "--require-approval", "never"],
    ]
    assert "503 NOT_CONFIGURED" in deploy.stdout
    # The stack exists now: the next deploy is an ordinary one, protection stays on.
    log.unlink()
    again = _make("deploy", None, f"CDK={fake_cdk}")
    assert again.returncode != 0  # preflight: the secret still holds the placeholder
    assert "make put-key ENV=prod" in again.stdout
    assert not log.exists()  # nothing was deployed
