"""A first deploy on a new account: what the templates must hold for it to work, and for a
failed create to be retried (guards on the synthesised templates and cloud assembly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigurationError
from tests.infra.infra_synth import SynthesizedApp, SynthesizedEnvironment

pytestmark = pytest.mark.xdist_group("infra")

# Lambda refuses a reservation that leaves fewer than 100 executions unreserved, and a new
# account's concurrency quota may be as low as 10: such an account can reserve nothing.
UNRESERVED_MINIMUM = 100
NEW_ACCOUNT_QUOTA = 10
ACCOUNT_SETTING = "AWS::ApiGateway::Account"


def _walk_retained(synthesized: SynthesizedApp) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, env in synthesized.environments.items():
        for logical_id, resource in env.resources.items():
            if str(resource.get("DeletionPolicy", "")).startswith("Retain"):
                yield name, logical_id, resource


def test_retained_resources_are_deleted_when_a_create_rolls_back(
    synthesized: SynthesizedApp,
) -> None:
    """Retain would keep keys, table, secret, logs and role after a failed create: orphans
    that cost money, while a create holds no data worth keeping."""
    retained = list(_walk_retained(synthesized))
    assert len(retained) >= 10  # found what it walks: prod keeps keys, table, secret, logs
    wrong = [
        f"{env}:{logical_id} ({resource['Type']}) is {resource['DeletionPolicy']}"
        for env, logical_id, resource in retained
        if resource["DeletionPolicy"] != "RetainExceptOnCreate"
    ]
    assert wrong == []
    # A replaced resource is still kept: UpdateReplacePolicy stays Retain for them.
    assert {resource.get("UpdateReplacePolicy") for _, _, resource in retained} == {"Retain"}


def test_exactly_one_environment_owns_the_account_wide_api_gateway_setting(
    synthesized: SynthesizedApp,
) -> None:
    owners = {
        name
        for name, env in synthesized.environments.items()
        if env.resources_of_type(ACCOUNT_SETTING)
    }
    assert len(owners) == 1, f"{ACCOUNT_SETTING} in {sorted(owners)}"
    for name, env in synthesized.environments.items():
        owns = name in owners
        assert env.config.manage_api_gateway_account is owns
        roles = [
            logical_id
            for logical_id, resource in env.resources_of_type("AWS::IAM::Role").items()
            if "apigateway.amazonaws.com" in json.dumps(resource["Properties"])
        ]
        assert len(roles) == (1 if owns else 0), name


def test_every_environment_can_be_created_on_a_new_account(env: SynthesizedEnvironment) -> None:
    _, function = env.only("AWS::Lambda::Function")
    reservable = max(NEW_ACCOUNT_QUOTA - UNRESERVED_MINIMUM, 0)
    reserved = function["Properties"].get("ReservedConcurrentExecutions", 0)
    assert reserved <= reservable, (
        f"{env.config.name} reserves {reserved}: set reservedConcurrency once preflight shows "
        "the account's quota leaves room"
    )


@pytest.fixture(scope="module")
def first_create_prod(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    """prod as `make deploy` synthesises it for the create: ``-c firstCreate=true`` (the
    CLI passes context values as strings)."""
    from infra.app import create_app  # noqa: PLC0415 (starts jsii)

    outdir = tmp_path_factory.mktemp("first-create")
    app, [stack] = create_app(
        env_names=["prod"], outdir=str(outdir), extra_context={"firstCreate": "true"}
    )
    app.synth()
    template = json.loads((Path(outdir) / stack.template_file).read_text(encoding="utf-8"))
    return stack, template


def test_first_create_can_be_deleted_after_a_rollback(
    first_create_prod: tuple[Any, dict[str, Any]], synthesized: SynthesizedApp
) -> None:
    """The CLI switches termination protection on before the create runs; a table with
    deletion protection cannot be deleted by the rollback. Neither on the first create."""
    stack, template = first_create_prod
    assert stack.config.is_retained
    assert stack.termination_protection is False
    [table] = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert table["Properties"]["DeletionProtectionEnabled"] is False
    # Every later deploy (no flag) protects both again.
    prod = synthesized.environments["prod"]
    assert prod.stack.termination_protection is True
    _, later_table = prod.only("AWS::DynamoDB::Table")
    assert later_table["Properties"]["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize("value", ["yes", "1", "TRUE"])
def test_first_create_flag_takes_exact_spellings_only(value: str) -> None:
    from infra.app import create_app  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="firstCreate"):
        create_app(env_names=["prod"], extra_context={"firstCreate": value})


# The two exceptions AWS's SnapStart page lists (Asia Pacific (Taipei), (New Zealand)).
@pytest.mark.parametrize("region", ["ap-east-2", "ap-southeast-6"])
def test_snap_start_is_refused_where_aws_does_not_offer_it(region: str) -> None:
    import aws_cdk as cdk  # noqa: PLC0415

    from infra.app import create_app  # noqa: PLC0415

    with pytest.raises(ConfigurationError, match="snapStart") as raised:
        create_app(
            env_names=["prod"], aws_env=cdk.Environment(account="123456789012", region=region)
        )
    assert region in str(raised.value)


def test_preflight_asks_for_a_bootstrap_new_enough_for_the_assembly(
    synthesized: SynthesizedApp,
) -> None:
    from tools.deploy.preflight import MIN_BOOTSTRAP_VERSION  # noqa: PLC0415

    required: list[int] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "requiresBootstrapStackVersion":
                    required.append(int(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for manifest in synthesized.outdir.glob("*.json"):
        walk(json.loads(manifest.read_text(encoding="utf-8")))
    assert required  # found what it walks
    assert max(required) <= MIN_BOOTSTRAP_VERSION
