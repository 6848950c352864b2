#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c env=<name>` builds the stack TelephoneStatus-<name>.

No AWS calls, no network and no git here: account and region come from the CLI's
CDK_DEFAULT_* variables when present, otherwise the stack is environment-agnostic.
"""

from __future__ import annotations

import sys

from infra.app import aws_environment_from_cli, create_app
from infra.config import ConfigurationError


def main() -> int:
    try:
        app, _stacks = create_app(aws_env=aws_environment_from_cli())
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
