"""The asset as shipped, for the interpreter at hand: an x86_64 twin of the deploy asset.

The twin is built by the same bundling code as the deployed asset (infra/bundling.py), for
this interpreter instead of the runtime's CPython on arm64: the same pinned wheels, the same
source, the same required ``compileall`` step. Beside it, a "runtime" folder holds what the
Lambda Python runtime provides (boto3 and its dependencies), compiled as the runtime ships
them. Both are read-only and children run with ``PYTHONDONTWRITEBYTECODE=1``: every start
uses exactly the bytecode the asset carries, as on Lambda's read-only ``/var/task``.
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from bench.common import ROOT, WORK_DIR
from infra.bundling import (
    FUNCTIONS_DIR,
    REQUIREMENTS_FILE,
    BundleTarget,
    bundle_into,
    compile_command,
    modules_without_bytecode,
)

# What the Lambda Python runtime brings (boto3 is not bundled), at our pinned version.
RUNTIME_REQUIREMENTS: Final = "boto3==1.44.5\n"
_PROBE: Final = "import sys; print('%d.%d' % sys.version_info[:2], sys._base_executable)"


def _set_writable(root: Path, *, writable: bool) -> None:
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")] if root.exists() else []:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR if writable else mode & ~write)


def build_twin(python: str, dest: Path) -> dict[str, Any]:
    """dest/task (the asset's twin) and dest/runtime (boto3 & co.), compiled, read-only."""
    probe = [python, "-I", "-c", _PROBE]
    version, base = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.split()
    machine = platform.machine()
    target = BundleTarget(version, f"{machine}-manylinux2014", f"manylinux2014_{machine}")
    _set_writable(dest, writable=True)
    shutil.rmtree(dest, ignore_errors=True)
    task, runtime = dest / "task", dest / "runtime"
    task.mkdir(parents=True)
    found = bundle_into(
        task,
        source_dir=FUNCTIONS_DIR,
        requirements=REQUIREMENTS_FILE,
        target=target,
        find_python=lambda _version: base,
    )
    if not found:
        raise RuntimeError("no installer (uv or pip) for the asset twin")
    shutil.copytree(_runtime_packages(target), runtime, dirs_exist_ok=True)
    # A failure shows up in the check below.
    subprocess.run(compile_command(base, runtime), capture_output=True, check=False, timeout=300)
    if missing := modules_without_bytecode(task, f"cpython-{target.cpython_tag[2:]}"):
        raise RuntimeError(f"twin asset lacks bytecode for {missing[:5]}")
    _set_writable(dest, writable=False)
    return {"python": version, "interpreter": base, "task": str(task), "runtime": str(runtime)}


def _runtime_packages(target: BundleTarget) -> Path:
    """boto3's closure as the runtime has it; cached next to the function's dependencies."""
    ready = (
        ROOT / ".build" / "lambda-runtime-deps" / f"{target.python_version}-{target.uv_platform}"
    )
    if ready.is_dir():
        return ready
    staging = ready.with_name(f".{ready.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    requirements = WORK_DIR / "runtime-requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(RUNTIME_REQUIREMENTS, encoding="utf-8")
    subprocess.run(
        [
            str(ROOT / ".tools" / "bin" / "uv"),
            "pip",
            "install",
            "--quiet",
            "--only-binary",
            ":all:",
            "--python-platform",
            target.uv_platform,
            "--python-version",
            target.python_version,
            "--target",
            str(staging),
            "-r",
            str(requirements),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    staging.rename(ready)
    return ready


def shipped_environment(env: Mapping[str, str], twin: Mapping[str, Any]) -> dict[str, str]:
    """Lambda-like (what Powertools reads to know it runs inside Lambda), with only the twin
    on sys.path and no bytecode written."""
    cleaned = {k: v for k, v in env.items() if k not in ("PYTHONPYCACHEPREFIX", "VIRTUAL_ENV")}
    return {
        **cleaned,
        "LAMBDA_TASK_ROOT": twin["task"],
        "AWS_LAMBDA_FUNCTION_NAME": "telephone-status",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        "PYTHONPATH": os.pathsep.join([twin["task"], twin["runtime"]]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }
