"""Build the CDK app: cdk.json context, the chosen environments' stacks, cdk-nag checks."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk

from infra.config import (
    ENV_NAME_CONTEXT_KEY,
    ENVIRONMENTS_CONTEXT_KEY,
    FIRST_CREATE_CONTEXT_KEY,
    cdk_json_context,
    check_region,
    first_create,
    known_environment_names,
    load_environment,
)
from infra.nag import add_nag_checks
from infra.stack import TelephoneStatusStack

# Makes CDK record aws:asset:path / aws:asset:property (how `sam local invoke` finds the bundled
# code in cdk.out) and aws:cdk:path (how SAM recognises a CDK template) on the resources. The
# CDK CLI sets both; a plain `python -m infra.synth_all` would not.
SAM_METADATA_CONTEXT = {
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:enable-path-metadata": True,
}


def aws_environment_from_cli() -> cdk.Environment | None:
    """The CLI's default account/region when present; otherwise an environment-agnostic stack.

    Nothing here calls AWS: the CLI exports these variables before running the app.
    """
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if account is None and region is None:
        return None
    return cdk.Environment(account=account, region=region)


def create_app(
    *,
    env_names: Sequence[str] | None = None,
    outdir: str | None = None,
    extra_context: Mapping[str, Any] | None = None,
    aws_env: cdk.Environment | None = None,
) -> tuple[cdk.App, list[TelephoneStatusStack]]:
    """An app with one stack per chosen environment.

    ``env_names=None`` takes the one named by ``-c env=<name>`` (the CDK CLI's way). cdk.json's
    context is passed in explicitly so a plain ``python`` run sees what the CLI would; context
    from the CLI still wins (CDK reads CDK_CONTEXT_JSON after the constructor's context).
    """
    context = {**cdk_json_context(), **SAM_METADATA_CONTEXT, **(extra_context or {})}
    app = cdk.App(context=context, outdir=outdir)
    add_nag_checks(app)
    all_context = {
        key: app.node.try_get_context(key)
        for key in (ENVIRONMENTS_CONTEXT_KEY, ENV_NAME_CONTEXT_KEY, FIRST_CREATE_CONTEXT_KEY)
    }
    if env_names is None:
        configs = [load_environment(all_context, all_context[ENV_NAME_CONTEXT_KEY])]
    else:
        configs = [load_environment(all_context, name) for name in env_names]
    creating = first_create(all_context[FIRST_CREATE_CONTEXT_KEY])
    for config in configs:
        check_region(config, aws_env.region if aws_env is not None else None)
    stacks = [
        TelephoneStatusStack(app, config=config, env=aws_env, first_create=creating)
        for config in configs
    ]
    return app, stacks


def all_environment_names() -> list[str]:
    return known_environment_names(cdk_json_context())
