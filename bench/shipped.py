"""Cold start as shipped: an x86_64 twin of the deploy asset, read-only, bytecode from the bundle.

The twin is built by the same bundling code as the deployed asset (infra/bundling.py), for the
interpreter at hand instead of the runtime's CPython on arm64: the same pinned wheels for
x86_64, the same source, the same required ``compileall`` step. Beside it, a "runtime" folder
holds what the Lambda Python runtime provides (boto3 and its dependencies), compiled as the
runtime ships them. Both folders are made read-only and the children run with
``PYTHONDONTWRITEBYTECODE=1``, so nothing can be compiled and cached between runs: every
start uses exactly the bytecode the asset carries, as on Lambda's read-only ``/var/task``.

    python -m bench.shipped [--python PATH] [--runs 10]   # standalone, e.g. per CPython version
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import time
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

# What the Lambda Python runtime brings (SPEC: boto3 is not bundled), at our pinned version.
RUNTIME_REQUIREMENTS: Final = "boto3==1.44.5\n"
_PROBE: Final = "import sys; print('%d.%d' % sys.version_info[:2], sys._base_executable)"


def interpreter(python: str) -> tuple[str, str]:
    """(minor version, base executable): the twin runs outside any virtual environment."""
    out = subprocess.run(
        [python, "-I", "-c", _PROBE], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    return out[0], out[1]


def _make_read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def build_twin(python: str, dest: Path) -> dict[str, Any]:
    """dest/task (the asset's twin) and dest/runtime (boto3 & co.), compiled, read-only."""
    version, base = interpreter(python)
    machine = platform.machine()
    target = BundleTarget(
        python_version=version,
        uv_platform=f"{machine}-manylinux2014",
        pip_platform=f"manylinux2014_{machine}",
    )
    _make_writable(dest)
    shutil.rmtree(dest, ignore_errors=True)
    task, runtime = dest / "task", dest / "runtime"
    task.mkdir(parents=True)
    started = time.monotonic()
    if not bundle_into(
        task,
        source_dir=FUNCTIONS_DIR,
        requirements=REQUIREMENTS_FILE,
        target=target,
        find_python=lambda _version: base,
    ):
        raise RuntimeError("no installer (uv or pip) for the asset twin")
    requirements = WORK_DIR / "runtime-requirements.txt"
    requirements.write_text(RUNTIME_REQUIREMENTS, encoding="utf-8")
    runtime_target = BundleTarget(version, target.uv_platform, target.pip_platform)
    installed = _install_with_deps(requirements, runtime_target)
    shutil.copytree(installed, runtime, dirs_exist_ok=True)
    subprocess.run(
        compile_command(base, runtime), capture_output=True, check=False, timeout=300
    )  # a failure shows up in the check below
    missing = modules_without_bytecode(task, f"cpython-{target.cpython_tag[2:]}")
    if missing:
        raise RuntimeError(f"twin asset lacks bytecode for {missing[:5]}")
    _make_read_only(dest)
    return {
        "python": version,
        "interpreter": base,
        "platform": target.uv_platform,
        "build_s": round(time.monotonic() - started, 1),
        "task": str(task),
        "runtime": str(runtime),
    }


def _install_with_deps(requirements: Path, target: BundleTarget) -> Path:
    # boto3's closure (botocore, s3transfer, jmespath, dateutil, six, urllib3), as the runtime
    # has it; cached next to the function's dependencies.
    cache = ROOT / ".build" / "lambda-runtime-deps"
    ready = cache / f"{target.python_version}-{target.uv_platform}"
    if ready.is_dir():
        return ready
    uv = ROOT / ".tools" / "bin" / "uv"
    staging = cache / f".{ready.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(
        [
            str(uv), "pip", "install", "--quiet", "--only-binary", ":all:",
            "--python-platform", target.uv_platform, "--python-version", target.python_version,
            "--target", str(staging), "-r", str(requirements),
        ],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    staging.rename(ready)
    return ready


def child_environment(env: Mapping[str, str], twin: Mapping[str, Any]) -> dict[str, str]:
    """The worker's environment, with the twin first on sys.path and no bytecode writing."""
    cleaned = {k: v for k, v in env.items() if k not in ("PYTHONPYCACHEPREFIX", "VIRTUAL_ENV")}
    return {
        **cleaned,
        "PYTHONPATH": os.pathsep.join([twin["task"], twin["runtime"]]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def shipped_environment(env: Mapping[str, str], twin: Mapping[str, Any]) -> dict[str, str]:
    """Lambda-like (what Powertools reads inside Lambda), running the twin."""
    from bench.common import lambda_like_environment  # noqa: PLC0415

    shipped = child_environment(lambda_like_environment(env), twin)
    shipped["LAMBDA_TASK_ROOT"] = twin["task"]
    return shipped


# Kept for a standalone run (runtime comparison): a report of the cold start of one
# interpreter's twin, ours against `import boto3` from the twin's runtime folder.
def main(argv: list[str] | None = None) -> int:
    from bench import cold  # noqa: PLC0415
    from bench.common import build_event, function_environment, write_json  # noqa: PLC0415
    from bench.servers import SandboxProcess, start_bench_moto  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    version, _ = interpreter(args.python)
    twin = build_twin(args.python, WORK_DIR / f"twin-{version}")
    moto = start_bench_moto()
    sandbox = SandboxProcess()
    try:
        env = function_environment(
            aws_endpoint_url=moto.endpoint_url,
            sandbox_url=sandbox.url,
            moto_url=moto.endpoint_url,
            functions_dir=FUNCTIONS_DIR,
        )
        event_path = WORK_DIR / "cold-event.json"
        write_json(event_path, build_event(0))
        result = cold.measure_shipped(env, event_path, args.runs, twin)
    finally:
        sandbox.stop()
        moto.stop()
    print(json.dumps({"twin": twin, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
