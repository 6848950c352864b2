"""`make put-key ENV=<name>`: puts the ProxStop key, read from standard input, into the secret.

The Makefile reads the key with ``read -rs`` (not echoed) and pipes it here, so it never
appears in shell history, a process list or a file; this program never prints it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigurationError
from tools.deploy.aws import DeployError, client, describe_stack, environment, session
from tools.deploy.secret_value import secret_document, usable_key

# A key is a short token; anything longer is a paste gone wrong.
MAX_KEY_LENGTH = 512


def read_key(stream: TextIO) -> str:
    key = stream.read(MAX_KEY_LENGTH + 1).strip()
    if not key:
        raise DeployError("no key given")
    if len(key) > MAX_KEY_LENGTH or not usable_key(key):
        # Says what is wrong, never what was typed.
        raise DeployError("that is not a ProxStop API key (printable ASCII, no spaces)")
    return key


def put_key(env_name: str, stream: TextIO) -> str:
    """Stores the key from ``stream`` in the environment's secret; returns the secret's id."""
    config = environment(env_name)
    current = session()
    stack = describe_stack(client(current, "cloudformation"), config.stack_name)
    secret_id = stack.outputs.get("SecretArn")
    if secret_id is None:
        if config.secret.create:
            raise DeployError(
                f"{config.stack_name} is not deployed yet (no SecretArn output): "
                f"make deploy ENV={env_name} first"
            )
        secret_id = config.secret.name
    key = read_key(stream)
    client(current, "secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=secret_document(key)
    )
    return secret_id


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name in cdk.json")
    args = parser.parse_args(argv)
    try:
        secret_id = put_key(args.env, sys.stdin)
    except (ConfigurationError, DeployError) as error:
        print(f"put-key: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"put-key: {error}", file=sys.stderr)
        return 2
    print(f"put-key: stored in {secret_id}; the function uses it within a minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
