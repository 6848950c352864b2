"""Stands in for the CDK CLI in `make deploy CDK=...` tests: records its arguments and, on
`deploy`, creates the stack in the emulator from a prepared template (nothing is synthesised).

Reads FAKE_CDK_LOG (a file to append one JSON argv per call to) and FAKE_CDK_TEMPLATE (the
template whose outputs stand for the deployed stack's); boto3 reaches moto through
AWS_ENDPOINT_URL like the tools under test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3


def main(argv: list[str]) -> int:
    with Path(os.environ["FAKE_CDK_LOG"]).open("a", encoding="utf-8") as log:
        log.write(json.dumps(argv) + "\n")
    if argv[:1] != ["deploy"]:
        return 0
    env_name = argv[argv.index("-c") + 1].removeprefix("env=")
    stack_name = f"TelephoneStatus-{env_name}"
    cloudformation = boto3.client("cloudformation")
    existing = [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]
    if stack_name not in existing:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=Path(os.environ["FAKE_CDK_TEMPLATE"]).read_text(encoding="utf-8"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
