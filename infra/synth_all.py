"""Synthesise every environment in cdk.json into one cloud assembly (``make synth``).

One app holding all stacks: a single manifest, one bundling of the function code, and the
cdk-nag checks over everything. Offline: no AWS credentials, no Docker.
"""

from __future__ import annotations

import argparse
import sys

from infra.app import all_environment_names, create_app
from infra.config import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outdir", default="cdk.out", help="cloud assembly directory")
    args = parser.parse_args(argv)
    try:
        app, stacks = create_app(env_names=all_environment_names(), outdir=args.outdir)
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    for stack in stacks:
        print(f"{args.outdir}/{stack.template_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
