"""Stack naming, outputs and tags."""

from __future__ import annotations

import pytest

from tests.infra.infra_synth import FUNCTION_LOGICAL_ID, SynthesizedApp, SynthesizedEnvironment, ref

pytestmark = pytest.mark.xdist_group("infra")


def test_one_stack_per_environment_named_after_it(synthesized: SynthesizedApp) -> None:
    for name, env in synthesized.environments.items():
        assert env.stack.stack_name == f"TelephoneStatus-{name}"
        assert env.template_path.name == f"TelephoneStatus-{name}.template.json"


def test_stack_outputs(env: SynthesizedEnvironment) -> None:
    outputs = env.template_json["Outputs"]
    expected = {
        "ApiUrl",
        "JwksUrl",
        "FunctionName",
        "SecretArn",
        "TableName",
        "DashboardUrl",
        "AlarmTopicArn",
    }
    if env.config.api_key.enabled:
        expected.add("ApiKeyId")
    assert set(outputs) == expected
    secret_id, _ = env.only("AWS::SecretsManager::Secret")
    table_id, _ = env.only("AWS::DynamoDB::Table")
    assert outputs["FunctionName"]["Value"] == ref(FUNCTION_LOGICAL_ID)
    assert outputs["SecretArn"]["Value"] == ref(secret_id)
    assert outputs["TableName"]["Value"] == ref(table_id)
    api_url_parts = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api_url_parts[0] == "https://"
    assert api_url_parts[-1] == "/v1/telephone-status"
    assert outputs["JwksUrl"]["Value"]["Fn::Join"][1][-1] == "/v1/jwks.json"
    dashboard_url = "".join(
        part for part in outputs["DashboardUrl"]["Value"]["Fn::Join"][1] if isinstance(part, str)
    )
    assert ".console.aws.amazon.com/cloudwatch/home?region=" in dashboard_url
    assert "#dashboards:name=" in dashboard_url


def test_resources_are_tagged_with_the_environment(env: SynthesizedEnvironment) -> None:
    tags = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["Tags"]
    assert {"Key": "environment", "Value": env.config.name} in tags
    assert {"Key": "project", "Value": "telephone-status"} in tags
