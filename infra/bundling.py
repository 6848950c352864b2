"""Build the Lambda code asset on this machine, without Docker (plain Python, no aws_cdk).

The asset is the function source plus its pinned third-party dependencies, installed as
manylinux aarch64 wheels for the Lambda runtime's CPython version. ``--only-binary`` means
nothing is compiled here, so an x86_64 laptop or CI machine produces a correct arm64 bundle.

Installed dependencies are cached under ``.build/lambda-deps/<key>/`` where the key is a hash
of requirements.txt and the target, so repeated synths (tests, ``make synth``, ``cdk deploy``)
copy a ready directory instead of resolving and unpacking wheels again.

Lambda's ``/var/task`` is read-only, so a bundle without bytecode is compiled on every cold
start (about 1.5 s here). The finished bundle is therefore always compiled by a CPython of the
runtime's exact minor version (``--invalidation-mode unchecked-hash``), and every module must
end up with its ``.pyc``; if no such interpreter is found (``find_target_python``: pyenv's
versions, uv, PATH), bundling raises BundlingError, which fails the synth with a message saying
how to get one. Compilation happens in the output directory only, never in the dependency cache.
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

# Bounds on the bytecode step, so that it can never hang a synth.
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
    """Fill ``output_dir`` with the dependencies, the source tree and their bytecode for the
    target CPython; False if there is no installer (CDK then falls back to Docker)."""
    dependencies = install_dependencies(requirements, target, cache_dir)
    if dependencies is None:
        return False
    shutil.copytree(dependencies, output_dir, dirs_exist_ok=True)
    shutil.copytree(
        source_dir, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*BUNDLE_EXCLUDES)
    )
    precompile_bytecode(output_dir, target, find_python=find_python or cached_target_python)
    return True


# --- Bytecode precompilation (required) ---------------------------------------------------

# An explicit interpreter for the runtime's version wins over discovery (any path).
BUNDLE_PYTHON_VARIABLE = "BUNDLE_PYTHON"
_VERSION_PROBE = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"


def how_to_get_python(version: str) -> str:
    return (
        f"The Lambda asset must carry bytecode compiled by CPython {version} (the runtime's "
        f"version; /var/task is read-only, so without it every cold start compiles the bundle). "
        f"Get that interpreter with one of: `pyenv install {version}` (found under "
        f"$PYENV_ROOT/versions or ~/.pyenv/versions), `uv python install {version}`, your OS "
        f"package (python{version} on PATH), or point {BUNDLE_PYTHON_VARIABLE}=/path/to/python"
        f"{version} at one."
    )


def _is_cpython(path: str, version: str, run: Runner) -> bool:
    try:
        probed = run(
            [path, "-I", "-c", _VERSION_PROBE],
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return probed.returncode == 0 and probed.stdout.split() == ["cpython", version]


def _pyenv_candidates(version: str, environ: Mapping[str, str]) -> list[str]:
    # pyenv's shims only work for the selected version, so the versions are read directly;
    # the newest patch release first.
    root = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found: list[tuple[int, str]] = []
    for executable in (root / "versions").glob(f"{version}.*/bin/python{version}"):
        patch = executable.parents[1].name.removeprefix(f"{version}.")
        if patch.isdigit():  # not 3.12.1t, 3.12-dev or a virtualenv's name
            found.append((int(patch), str(executable)))
    return [path for _, path in sorted(found, reverse=True)]


def find_target_python(
    version: str,
    *,
    uv: str | None = None,
    environ: Mapping[str, str] | None = None,
    run: Runner = subprocess.run,
) -> str | None:
    """Path of a CPython ``version`` interpreter, or None.

    In order: ``$BUNDLE_PYTHON``; pyenv's versions; ``uv python find``; ``python3.x`` on
    PATH; then, unless ``UV_PYTHON_DOWNLOADS=never`` (set by the Makefile), one bounded
    ``uv python install``. Each candidate is run once to check it is CPython ``version``.
    """
    environ = os.environ if environ is None else environ
    uv = _find_uv() if uv is None else uv
    explicit = environ.get(BUNDLE_PYTHON_VARIABLE, "")
    if explicit:
        # Set on purpose: the wrong version is an error, not a reason to look elsewhere.
        return explicit if _is_cpython(explicit, version, run) else None
    request = f"cpython@{version}"

    def uv_find() -> str | None:
        if uv is None:
            return None
        try:
            found = run(
                [uv, "python", "find", "--no-project", request],
                capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        path = found.stdout.strip()
        return path if found.returncode == 0 and path else None

    candidates: list[Callable[[], str | None]] = [
        *(functools.partial(str, path) for path in _pyenv_candidates(version, environ)),
        uv_find,
        functools.partial(shutil.which, f"python{version}"),
    ]
    for candidate in candidates:
        path = candidate()
        if path and _is_cpython(path, version, run):
            return path
    if uv is None or environ.get("UV_PYTHON_DOWNLOADS", "").lower() == "never":
        return None
    try:
        # --no-bin: do not put python3.x on the operator's PATH as a side effect.
        installed = run(
            [uv, "python", "install", "--no-bin", request],
            capture_output=True, text=True, check=False, timeout=PYTHON_INSTALL_TIMEOUT_SECONDS,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    path = uv_find() if installed.returncode == 0 else None
    return path if path and _is_cpython(path, version, run) else None


@functools.cache
def cached_target_python(version: str) -> str | None:
    # Once per process: a synth bundles several assets and an install attempt can take seconds.
    return find_target_python(version)


def require_target_python(version: str) -> str:
    """The interpreter for ``version``, or BundlingError saying how to get one."""
    python = cached_target_python(version)
    if python is None:
        raise BundlingError(f"No CPython {version} found. {how_to_get_python(version)}")
    return python


def compile_command(python: str, bundle_dir: Path) -> list[str]:
    # -I: ignore PYTHON* variables (PYTHONPYCACHEPREFIX would put the .pyc outside the bundle).
    # unchecked-hash: valid whatever the mtimes end up being once zipped and deployed; never
    # re-checked at import, and the asset is immutable anyway.
    return [
        python, "-I", "-m", "compileall", "-q", "-j0",
        "--invalidation-mode", "unchecked-hash", str(bundle_dir),
    ]  # fmt: skip


def modules_without_bytecode(bundle_dir: Path, cache_tag: str) -> list[str]:
    """Every ``.py`` in the bundle that has no ``__pycache__/<name>.<cache_tag>.pyc``."""
    return sorted(
        source.relative_to(bundle_dir).as_posix()
        for source in bundle_dir.rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc").is_file()
    )


def precompile_bytecode(
    bundle_dir: Path,
    target: BundleTarget,
    *,
    find_python: PythonFinder = cached_target_python,
    run: Runner = subprocess.run,
) -> str:
    """Add ``__pycache__/*.cpython-3XX.pyc`` for every module of the bundle.

    Returns the interpreter used; raises BundlingError (failing the synth) when there is no
    CPython of the target version or when any module is left without bytecode.
    """
    python = find_python(target.python_version)
    if python is None:
        raise BundlingError(
            f"No CPython {target.python_version} found. {how_to_get_python(target.python_version)}"
        )
    try:
        completed = run(
            compile_command(python, bundle_dir),
            capture_output=True, text=True, check=False, timeout=COMPILE_TIMEOUT_SECONDS,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as error:
        raise BundlingError(f"{python} -m compileall failed: {error}") from error
    missing = modules_without_bytecode(bundle_dir, f"cpython-{target.cpython_tag[2:]}")
    if completed.returncode != 0 or missing:
        detail = (completed.stdout.strip() or completed.stderr.strip())[-1500:]
        raise BundlingError(
            f"Bytecode for CPython {target.python_version} is missing for {len(missing)} "
            f"module(s) ({', '.join(missing[:5])}); compileall exit {completed.returncode}:\n"
            f"{detail}"
        )
    return python
