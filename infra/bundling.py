"""Build the Lambda code asset on this machine, without Docker (plain Python, no aws_cdk).

The asset is the function source plus its pinned third-party dependencies, installed as
manylinux aarch64 wheels for the Lambda runtime's CPython version. ``--only-binary`` means
nothing is compiled here, so an x86_64 laptop or CI machine produces a correct arm64 bundle.

Installed dependencies are cached under ``.build/lambda-deps/<key>/`` where the key is a hash
of requirements.txt and the target, so repeated synths (tests, ``make synth``, ``cdk deploy``)
copy a ready directory instead of resolving and unpacking wheels again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
REQUIREMENTS_FILE = FUNCTIONS_DIR / "telephone_status" / "requirements.txt"
DEPENDENCY_CACHE_DIR = REPO_ROOT / ".build" / "lambda-deps"

# Never part of the deployed code: caches and the requirements file (already installed).
SOURCE_EXCLUDES = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", "*.egg-info")
BUNDLE_EXCLUDES = (*SOURCE_EXCLUDES, "requirements.txt")

# Bumped when the way dependencies are installed changes, so old cache entries are ignored.
_CACHE_FORMAT = "1"


class BundlingError(RuntimeError):
    """Installing the function's dependencies failed."""


@dataclass(frozen=True)
class BundleTarget:
    """The Lambda platform the wheels must match."""

    python_version: str  # "3.14"
    # Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); manylinux2014
    # (glibc 2.17) wheels run there and every package we use publishes one.
    uv_platform: str = "aarch64-manylinux2014"
    pip_platform: str = "manylinux2014_aarch64"

    @classmethod
    def for_runtime(cls, runtime_name: str) -> BundleTarget:
        """The target of a Lambda runtime name such as "python3.14"."""
        if not runtime_name.startswith("python3."):
            raise ValueError(f"not a Python runtime: {runtime_name}")
        return cls(python_version=runtime_name.removeprefix("python"))

    @property
    def cpython_tag(self) -> str:
        return "cp" + self.python_version.replace(".", "")


def dependency_cache_key(requirements: bytes, target: BundleTarget) -> str:
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT, target.python_version, target.uv_platform, target.pip_platform):
        digest.update(part.encode() + b"\0")
    digest.update(requirements)
    return digest.hexdigest()[:24]


def _find_uv() -> str | None:
    bundled = REPO_ROOT / ".tools" / "bin" / "uv"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    return shutil.which("uv")


def _install_command(requirements: Path, target_dir: Path, target: BundleTarget) -> list[str]:
    # --no-deps: requirements.txt is the complete pinned closure, minus boto3 and friends that
    # the Lambda runtime already provides (aws-xray-sdk would otherwise drag botocore in).
    uv = _find_uv()
    if uv is not None:
        return [
            uv, "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
            "--python-platform", target.uv_platform, "--python-version", target.python_version,
            "--target", str(target_dir), "-r", str(requirements),
        ]  # fmt: skip
    if importlib.util.find_spec("pip") is not None:
        return [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--platform", target.pip_platform,
            "--implementation", "cp", "--python-version", target.python_version,
            "--target", str(target_dir), "-r", str(requirements),
        ]  # fmt: skip
    return []


def install_dependencies(requirements: Path, target: BundleTarget, cache_dir: Path) -> Path | None:
    """Return a directory holding the installed requirements, installing them on a cache miss.

    Returns None when neither uv nor pip is available (CDK then falls back to Docker).
    """
    requirements_text = requirements.read_bytes()
    ready_dir = cache_dir / dependency_cache_key(requirements_text, target)
    if ready_dir.is_dir():
        return ready_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Install next to the final place and rename: concurrent synths never see half a tree.
    staging_dir = Path(tempfile.mkdtemp(prefix=".install-", dir=cache_dir))
    try:
        command = _install_command(requirements, staging_dir, target)
        if not command:
            return None
        completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise BundlingError(
                f"Installing {requirements} for {target.cpython_tag} aarch64 failed "
                f"({command[0]} exit {completed.returncode}):\n{completed.stderr.strip()}"
            )
        try:
            staging_dir.rename(ready_dir)
        except OSError:
            if not ready_dir.is_dir():  # not "another synth won the race"
                raise
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    return ready_dir


def bundle_into(
    output_dir: Path,
    *,
    source_dir: Path,
    requirements: Path,
    target: BundleTarget,
    cache_dir: Path = DEPENDENCY_CACHE_DIR,
) -> bool:
    """Fill ``output_dir`` with the dependencies and the source tree; False if no installer."""
    dependencies = install_dependencies(requirements, target, cache_dir)
    if dependencies is None:
        return False
    shutil.copytree(dependencies, output_dir, dirs_exist_ok=True)
    shutil.copytree(
        source_dir, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*BUNDLE_EXCLUDES)
    )
    return True
