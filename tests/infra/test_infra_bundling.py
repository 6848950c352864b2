"""Local (Docker-free) bundling of the function code, without network or synthesis."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.bundling import (
    BundleTarget,
    bundle_into,
    dependency_cache_key,
    find_target_python,
    precompile_bytecode,
)

pytestmark = pytest.mark.xdist_group("infra")


def test_target_follows_the_runtime() -> None:
    target = BundleTarget.for_runtime("python3.14")
    assert target.python_version == "3.14"
    assert target.cpython_tag == "cp314"
    assert "aarch64" in target.uv_platform
    assert "aarch64" in target.pip_platform
    with pytest.raises(ValueError, match="not a Python runtime"):
        BundleTarget.for_runtime("nodejs22.x")


def test_cache_key_changes_with_requirements_and_target() -> None:
    requirements = b"pydantic==2.14.3\n"
    key = dependency_cache_key(requirements, BundleTarget("3.14"))
    assert key == dependency_cache_key(requirements, BundleTarget("3.14"))
    assert key != dependency_cache_key(b"pydantic==2.14.4\n", BundleTarget("3.14"))
    assert key != dependency_cache_key(requirements, BundleTarget("3.13"))


def test_bundle_is_cached_dependencies_plus_clean_source(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    (source / "telephone_status" / "__pycache__").mkdir(parents=True)
    (source / "telephone_status" / "handler.py").write_text("def lambda_handler(): ...\n")
    (source / "telephone_status" / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"")
    requirements = source / "telephone_status" / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    target = BundleTarget("3.14")
    cache = tmp_path / "cache"
    # A cache hit: nothing is installed, so this runs offline.
    cached = cache / dependency_cache_key(requirements.read_bytes(), target)
    (cached / "pydantic").mkdir(parents=True)
    (cached / "pydantic" / "__init__.py").write_text("")

    output = tmp_path / "asset"
    output.mkdir()
    assert bundle_into(
        output,
        source_dir=source,
        requirements=requirements,
        target=target,
        cache_dir=cache,
        find_python=lambda _version: None,  # offline and deterministic: no bytecode step
    )

    files = sorted(path.relative_to(output).as_posix() for path in output.rglob("*"))
    assert files == [
        "pydantic",
        "pydantic/__init__.py",
        "telephone_status",
        "telephone_status/handler.py",
    ]


class FakeRun:
    """Stands in for subprocess.run: records commands, answers by their first arguments."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]) -> None:
        self.answers = answers
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        for prefix, (returncode, stdout) in self.answers.items():
            if tuple(command[: len(prefix)]) == prefix:
                return subprocess.CompletedProcess(command, returncode, stdout, "")
        return subprocess.CompletedProcess(command, 2, "", "not found")


def test_bytecode_is_compiled_in_the_bundle_by_the_runtimes_python(tmp_path: Path) -> None:
    asked: list[str] = []

    def finder(version: str) -> str | None:
        asked.append(version)
        return "/opt/python3.14/bin/python3.14"

    run = FakeRun({("/opt/python3.14/bin/python3.14",): (0, "")})
    assert precompile_bytecode(
        tmp_path, BundleTarget.for_runtime("python3.14"), find_python=finder, run=run
    )
    assert asked == ["3.14"]  # the version comes from the runtime name
    expected = [
        "/opt/python3.14/bin/python3.14", "-I", "-m", "compileall", "-q", "-j0",
        "--invalidation-mode", "unchecked-hash", str(tmp_path),
    ]  # fmt: skip
    assert run.commands == [expected]


def test_bytecode_step_is_skipped_with_one_line_without_that_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = FakeRun({})
    assert not precompile_bytecode(
        tmp_path, BundleTarget("3.14"), find_python=lambda _version: None, run=run
    )
    assert run.commands == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("bytecode not precompiled: no CPython 3.14 found; cold starts compile")
    assert "(~0.7 s)" in err


def test_bytecode_compile_failure_never_fails_the_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = FakeRun({("/py",): (1, "*** Error compiling 'x.py'...")})
    assert not precompile_bytecode(
        tmp_path, BundleTarget("3.14"), find_python=lambda _v: "/py", run=run
    )
    assert "compileall exit 1" in capsys.readouterr().err


def test_finder_uses_an_installed_interpreter_without_installing() -> None:
    run = FakeRun({("uv", "python", "find"): (0, "/usr/bin/python3.14\n")})
    assert find_target_python("3.14", uv="uv", environ={}, run=run) == "/usr/bin/python3.14"
    assert run.commands == [["uv", "python", "find", "cpython@3.14"]]


def test_finder_never_installs_when_downloads_are_disabled() -> None:
    run = FakeRun({("uv", "python", "install"): (0, "")})
    environ = {"UV_PYTHON_DOWNLOADS": "never"}
    assert find_target_python("3.14", uv="uv", environ=environ, run=run) is None
    assert [command[:3] for command in run.commands] == [["uv", "python", "find"]]


def test_finder_installs_once_when_downloads_are_allowed() -> None:
    found: list[int] = []

    class InstallingRun(FakeRun):
        def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            if command[:3] == ["uv", "python", "install"]:
                assert kwargs["timeout"] <= 120
                found.append(1)
            if command[:3] == ["uv", "python", "find"] and found:
                self.answers[("uv", "python", "find")] = (0, "/managed/python3.14\n")
            return super().__call__(command, **kwargs)

    run = InstallingRun({("uv", "python", "install"): (0, "")})
    assert find_target_python("3.14", uv="uv", environ={}, run=run) == "/managed/python3.14"
    assert [command[:3] for command in run.commands] == [
        ["uv", "python", "find"],
        ["uv", "python", "install"],
        ["uv", "python", "find"],
    ]
    assert "--no-bin" in run.commands[1]


def test_finder_treats_a_failed_or_slow_install_as_not_found() -> None:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if command[:3] == ["uv", "python", "install"]:
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        return subprocess.CompletedProcess(command, 2, "", "")

    assert find_target_python("3.14", uv="uv", environ={}, run=run) is None
