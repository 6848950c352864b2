"""Writes (or with --check, verifies) the deployed function's requirements.txt.

The list is derived from uv.lock so the bundle and the tests use the same pins.
The AWS SDK family is left out: the Lambda Python runtime provides it, and
bundling it would add ~20 MB to the asset and to every cold start's unzip.
"""

from __future__ import annotations

import subprocess
import sys

from tools.generate import ROOT, write_or_check

REQUIREMENTS = ROOT / "functions" / "telephone_status" / "requirements.txt"
PROVIDED_BY_RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"}
HEADER = (
    "# Generated from uv.lock by `make requirements`; do not edit.\n"
    "# boto3 and its dependencies come from the Lambda Python runtime.\n"
)


def render() -> str:
    uv = ROOT / ".tools" / "bin" / "uv"
    exported = subprocess.run(  # noqa: S603 - our own uv binary, fixed arguments
        [
            str(uv),
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--format",
            "requirements-txt",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = [
        line.strip()
        for line in exported.splitlines()
        if line.strip() and line.split("==")[0].strip() not in PROVIDED_BY_RUNTIME
    ]
    return HEADER + "\n".join(pins) + "\n"


def main() -> int:
    return write_or_check(REQUIREMENTS, render, make_target="requirements", description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
