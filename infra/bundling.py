"""Build the Lambda code asset on this machine, without Docker (plain Python, no aws_cdk).

The asset is the function source plus its pinned third-party dependencies, installed as
manylinux aarch64 wheels for the Lambda runtime's CPython version. ``--only-binary`` means
nothing is compiled here, so an x86_64 laptop or CI machine produces a correct arm64 bundle.

Installed dependencies are cached under ``.build/lambda-deps/<key>/`` where the key is a hash
of requirements.txt and the target, so repeated synths (tests, ``make synth``, ``cdk deploy``)
copy a ready directory instead of resolving and unpacking wheels again.

Lambda's ``/var/task`` is read-only, so a bundle without bytecode is compiled on every cold
start. When a CPython of the runtime's exact version is available (found by uv, or installed
by it if ``UV_PYTHON_DOWNLOADS`` allows), the finished bundle is compiled with
``--invalidation-mode unchecked-hash``; otherwise that step is skipped with one warning line.
Compilation happens in the output directory only, never in the dependency cache.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
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

# Bounds on the optional bytecode step, so that it can never hang a synth.
PYTHON_INSTALL_TIMEOUT_SECONDS = 120
COMPILE_TIMEOUT_SECONDS = 300


# subprocess.run, and "version -> interpreter path or None"; both replaceable in tests.
Runner = Callable[..., "subprocess.CompletedProcess[str]"]
PythonFinder = Callable[[str], "str | None"]


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
    find_python: PythonFinder | None = None,
) -> bool:
    """Fill ``output_dir`` with the dependencies, the source tree and, if a CPython of the
    target version is found, their bytecode; False if no installer."""
    dependencies = install_dependencies(requirements, target, cache_dir)
    if dependencies is None:
        return False
    shutil.copytree(dependencies, output_dir, dirs_exist_ok=True)
    shutil.copytree(
        source_dir, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*BUNDLE_EXCLUDES)
    )
    precompile_bytecode(output_dir, target, find_python=find_python or cached_target_python)
    return True


# --- Optional bytecode precompilation ------------------------------------------------------


def find_target_python(
    version: str,
    *,
    uv: str | None = None,
    environ: Mapping[str, str] | None = None,
    run: Runner = subprocess.run,
) -> str | None:
    """Path of a CPython ``version`` interpreter, or None.

    ``uv python find`` first; then, unless ``UV_PYTHON_DOWNLOADS=never`` (set by the Makefile),
    one bounded ``uv python install`` attempt. Any failure just means "not found".
    """
    environ = os.environ if environ is None else environ
    uv = _find_uv() if uv is None else uv
    if uv is None:
        return shutil.which(f"python{version}")
    request = f"cpython@{version}"

    def find() -> str | None:
        try:
            found = run(
                [uv, "python", "find", request],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        path = found.stdout.strip()
        return path if found.returncode == 0 and path else None

    path = find()
    if path is not None or environ.get("UV_PYTHON_DOWNLOADS", "").lower() == "never":
        return path
    try:
        # --no-bin: do not put python3.x on the operator's PATH as a side effect.
        installed = run(
            [uv, "python", "install", "--no-bin", request],
            capture_output=True, text=True, check=False, timeout=PYTHON_INSTALL_TIMEOUT_SECONDS,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return find() if installed.returncode == 0 else None


@functools.cache
def cached_target_python(version: str) -> str | None:
    # Once per process: a synth bundles several assets and an install attempt can take seconds.
    return find_target_python(version)


def compile_command(python: str, bundle_dir: Path) -> list[str]:
    # -I: ignore PYTHON* variables (PYTHONPYCACHEPREFIX would put the .pyc outside the bundle).
    # unchecked-hash: valid whatever the mtimes end up being once zipped and deployed; never
    # re-checked at import, and the asset is immutable anyway.
    return [
        python, "-I", "-m", "compileall", "-q", "-j0",
        "--invalidation-mode", "unchecked-hash", str(bundle_dir),
    ]  # fmt: skip


def precompile_bytecode(
    bundle_dir: Path,
    target: BundleTarget,
    *,
    find_python: PythonFinder = find_target_python,
    run: Runner = subprocess.run,
) -> bool:
    """Add ``__pycache__/*.cpython-3XX.pyc`` to the bundle if possible; never raises."""
    python = find_python(target.python_version)
    if python is None:
        print(
            f"bytecode not precompiled: no CPython {target.python_version} found; cold starts "
            "compile pydantic, Powertools and the handler on every start (~0.7 s)",
            file=sys.stderr,
        )
        return False
    try:
        completed = run(
            compile_command(python, bundle_dir),
            capture_output=True, text=True, check=False, timeout=COMPILE_TIMEOUT_SECONDS,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        print(f"bytecode not precompiled: {python} -m compileall failed: {error}", file=sys.stderr)
        return False
    if completed.returncode != 0:
        # Partial success: every file that compiled keeps its .pyc; the rest compile at runtime.
        last_line = (completed.stdout.strip() or completed.stderr.strip()).splitlines()[-1:]
        print(
            f"bytecode partly precompiled: compileall exit {completed.returncode}: "
            + (last_line[0] if last_line else ""),
            file=sys.stderr,
        )
        return False
    return True
