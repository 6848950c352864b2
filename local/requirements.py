"""Writes (or with --check, verifies) the deployed function's requirements.txt.

The list is derived from uv.lock so the bundle and the tests use the same pins.
The AWS SDK family is left out: the Lambda Python runtime provides it, and
bundling it would add ~20 MB to the asset and to every cold start's unzip.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    wanted = render()
    if args.check:
        current = REQUIREMENTS.read_text() if REQUIREMENTS.exists() else ""
        if current != wanted:
            print(f"{REQUIREMENTS.relative_to(ROOT)} is stale: run `make requirements`")
            return 1
        return 0
    REQUIREMENTS.write_text(wanted)
    print(f"wrote {REQUIREMENTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
