"""Local (Docker-free) bundling of the function code, without network or synthesis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.bundling import (
    BundleTarget,
    BundlingError,
    bundle_into,
    dependency_cache_key,
    find_target_python,
    modules_without_bytecode,
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
    # The interpreter at hand stands in for the runtime's CPython (same minor version).
    target = BundleTarget(f"{sys.version_info.major}.{sys.version_info.minor}")
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
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
        find_python=lambda _version: sys.executable,
    )

    files = sorted(path.relative_to(output).as_posix() for path in output.rglob("*"))
    assert files == [
        "pydantic",
        "pydantic/__init__.py",
        "pydantic/__pycache__",
        f"pydantic/__pycache__/__init__.{tag}.pyc",
        "telephone_status",
        "telephone_status/__pycache__",
        f"telephone_status/__pycache__/handler.{tag}.pyc",
        "telephone_status/handler.py",
    ]
    # The source's own stale bytecode was not copied, and the cache was not compiled into.
    assert not (cache / cached.name / "pydantic" / "__pycache__").exists()


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


def _tree_with_modules(root: Path, names: list[str]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("VALUE = 1\n")


def _compiled(root: Path, names: list[str], tag: str) -> None:
    for name in names:
        source = root / name
        (source.parent / "__pycache__").mkdir(exist_ok=True)
        (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").write_bytes(b"")


def test_bytecode_is_compiled_in_the_bundle_by_the_runtimes_python(tmp_path: Path) -> None:
    asked: list[str] = []
    modules = ["pkg/__init__.py", "pkg/mod.py", "top.py"]
    _tree_with_modules(tmp_path, modules)

    def finder(version: str) -> str | None:
        asked.append(version)
        return "/opt/python3.12/bin/python3.12"

    class CompilingRun(FakeRun):
        def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            _compiled(tmp_path, modules, "cpython-312")
            return super().__call__(command, **kwargs)

    run = CompilingRun({("/opt/python3.12/bin/python3.12",): (0, "")})
    used = precompile_bytecode(
        tmp_path, BundleTarget.for_runtime("python3.12"), find_python=finder, run=run
    )
    assert used == "/opt/python3.12/bin/python3.12"
    assert asked == ["3.12"]  # the version comes from the runtime name
    expected = [
        "/opt/python3.12/bin/python3.12", "-I", "-m", "compileall", "-q", "-j0",
        "--invalidation-mode", "unchecked-hash", str(tmp_path),
    ]  # fmt: skip
    assert run.commands == [expected]


def test_without_the_runtimes_python_bundling_fails_saying_how_to_get_it(tmp_path: Path) -> None:
    run = FakeRun({})
    with pytest.raises(BundlingError) as raised:
        precompile_bytecode(
            tmp_path, BundleTarget("3.12"), find_python=lambda _version: None, run=run
        )
    assert run.commands == []
    message = str(raised.value)
    assert "No CPython 3.12 found" in message
    for way in ("pyenv install 3.12", "uv python install 3.12", "BUNDLE_PYTHON="):
        assert way in message


@pytest.mark.parametrize("returncode", [0, 1])
def test_a_module_left_without_bytecode_fails_the_bundle(tmp_path: Path, returncode: int) -> None:
    modules = ["pkg/__init__.py", "pkg/py2_only.py"]
    _tree_with_modules(tmp_path, modules)

    class PartlyCompilingRun(FakeRun):
        def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            _compiled(tmp_path, modules[:1], "cpython-312")
            # Bytecode of another version does not count.
            _compiled(tmp_path, modules[1:], "cpython-313")
            return super().__call__(command, **kwargs)

    run = PartlyCompilingRun({("/py",): (returncode, "*** Error compiling 'py2_only.py'")})
    with pytest.raises(BundlingError, match=r"missing for 1 module\(s\) \(pkg/py2_only.py\)"):
        precompile_bytecode(tmp_path, BundleTarget("3.12"), find_python=lambda _v: "/py", run=run)


def test_every_module_is_listed_when_missing(tmp_path: Path) -> None:
    _tree_with_modules(tmp_path, ["a.py", "b/c.py"])
    _compiled(tmp_path, ["a.py"], "cpython-312")
    assert modules_without_bytecode(tmp_path, "cpython-312") == ["b/c.py"]
    assert modules_without_bytecode(tmp_path, "cpython-313") == ["a.py", "b/c.py"]


def _probe_answer(version: str) -> tuple[int, str]:
    return (0, f"cpython {version}\n")


def test_finder_prefers_pyenv_versions_newest_patch_first(tmp_path: Path) -> None:
    for patch in ("1", "10", "9"):
        executable = tmp_path / "versions" / f"3.12.{patch}" / "bin" / "python3.12"
        executable.parent.mkdir(parents=True)
        executable.write_text("")
    (tmp_path / "versions" / "3.13.0" / "bin").mkdir(parents=True)
    (tmp_path / "versions" / "3.13.0" / "bin" / "python3.13").write_text("")
    newest = str(tmp_path / "versions" / "3.12.10" / "bin" / "python3.12")
    run = FakeRun({(newest, "-I", "-c"): _probe_answer("3.12")})
    found = find_target_python("3.12", uv="uv", environ={"PYENV_ROOT": str(tmp_path)}, run=run)
    assert found == newest
    assert run.commands[0][0] == newest  # checked by running it, before uv is asked


def test_an_explicit_interpreter_must_be_the_runtimes_version() -> None:
    run = FakeRun({("/x/python", "-I", "-c"): _probe_answer("3.13")})
    environ = {"BUNDLE_PYTHON": "/x/python", "PYENV_ROOT": "/nonexistent"}
    assert find_target_python("3.13", uv="uv", environ=environ, run=run) == "/x/python"
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) is None


def test_finder_uses_uv_and_checks_what_it_finds() -> None:
    run = FakeRun(
        {
            ("uv", "python", "find"): (0, "/usr/bin/python3.12\n"),
            ("/usr/bin/python3.12", "-I", "-c"): _probe_answer("3.12"),
        }
    )
    environ = {"PYENV_ROOT": "/nonexistent", "UV_PYTHON_DOWNLOADS": "never", "PATH": ""}
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) == "/usr/bin/python3.12"
    assert run.commands[0] == ["uv", "python", "find", "--no-project", "cpython@3.12"]


def test_a_broken_shim_is_not_an_interpreter() -> None:
    # pyenv's python3.x shim exits 127 unless pyenv selected that version.
    run = FakeRun({("uv", "python", "find"): (0, "/shims/python3.12\n")})
    environ = {"PYENV_ROOT": "/nonexistent", "UV_PYTHON_DOWNLOADS": "never"}
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) is None


def test_finder_never_installs_when_downloads_are_disabled() -> None:
    run = FakeRun({("uv", "python", "install"): (0, "")})
    environ = {"UV_PYTHON_DOWNLOADS": "never", "PYENV_ROOT": "/nonexistent"}
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) is None
    assert not any(command[:3] == ["uv", "python", "install"] for command in run.commands)


def test_finder_installs_once_when_downloads_are_allowed() -> None:
    class InstallingRun(FakeRun):
        def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
            if command[:3] == ["uv", "python", "install"]:
                assert kwargs["timeout"] <= 120
                assert "--no-bin" in command
                self.answers[("uv", "python", "find")] = (0, "/managed/python3.12\n")
                self.answers[("/managed/python3.12", "-I", "-c")] = _probe_answer("3.12")
            return super().__call__(command, **kwargs)

    run = InstallingRun({("uv", "python", "install"): (0, "")})
    environ = {"PYENV_ROOT": "/nonexistent"}
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) == "/managed/python3.12"
    assert sum(command[:3] == ["uv", "python", "install"] for command in run.commands) == 1


def test_finder_treats_a_failed_or_slow_install_as_not_found() -> None:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if command[:3] == ["uv", "python", "install"]:
            raise subprocess.TimeoutExpired(command, kwargs["timeout"])
        return subprocess.CompletedProcess(command, 2, "", "")

    environ = {"PYENV_ROOT": "/nonexistent"}
    assert find_target_python("3.12", uv="uv", environ=environ, run=run) is None
