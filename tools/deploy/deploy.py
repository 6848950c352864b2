"""`make deploy ENV=<name>`: preflight, `cdk deploy -c env=<name>`, then the smoke test.

When the stack does not exist yet (or a create failed and rolled back), the deploy passes
``-c firstCreate=true``: the stack is created without termination protection and without the
table's deletion protection, so that a failed create can be deleted and retried. Once that
create succeeds, a second ``cdk deploy -c env=<name>`` (without the flag) switches both on
for retained environments; every later deploy keeps them on (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigurationError, EnvironmentConfig
from tools.deploy import preflight as preflight_module
from tools.deploy import smoke
from tools.deploy.aws import DeployError, client, describe_stack, environment, session

# The CDK CLI pinned in package.json (installed by `npm ci`); CDK overrides it, e.g. in tests.
DEFAULT_CDK: Final = "npx --no-install cdk"


def cdk_deploy_command(
    cdk: Sequence[str], env_name: str, *, creating: bool, extra: Sequence[str] = ()
) -> list[str]:
    command = [*cdk, "deploy", "-c", f"env={env_name}"]
    if creating:
        command += ["-c", "firstCreate=true"]
    return [*command, *extra]


def needs_first_create(config: EnvironmentConfig) -> bool:
    stack = describe_stack(client(session(), "cloudformation"), config.stack_name)
    return not stack.exists or stack.creation_failed


def run(command: Sequence[str]) -> None:
    print("+ " + shlex.join(command), flush=True)
    completed = subprocess.run(command, check=False)  # noqa: S603 (argv from this module)
    if completed.returncode != 0:
        raise DeployError(f"{shlex.join(command)} failed (exit {completed.returncode})")


def deploy(env_name: str, *, cdk: Sequence[str], extra: Sequence[str] = ()) -> int:
    status = preflight_module.preflight(env_name)
    if status != 0:
        print("deploy: preflight failed; nothing was deployed", file=sys.stderr)
        return status
    config = environment(env_name)
    creating = needs_first_create(config)
    run(cdk_deploy_command(cdk, env_name, creating=creating, extra=extra))
    if creating and config.is_retained:
        # Created: now termination protection and the table's deletion protection.
        run(cdk_deploy_command(cdk, env_name, creating=False, extra=extra))
    return smoke.main(["--env", env_name])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name in cdk.json")
    parser.add_argument("cdk_args", nargs="*", help="more arguments for cdk deploy")
    args = parser.parse_args(argv)
    cdk = shlex.split(os.environ.get("CDK", DEFAULT_CDK))
    try:
        return deploy(args.env, cdk=cdk, extra=args.cdk_args)
    except (ConfigurationError, DeployError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
