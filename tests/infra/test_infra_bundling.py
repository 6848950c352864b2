"""Local (Docker-free) bundling of the function code, without network or synthesis."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.bundling import BundleTarget, bundle_into, dependency_cache_key

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
        output, source_dir=source, requirements=requirements, target=target, cache_dir=cache
    )

    files = sorted(path.relative_to(output).as_posix() for path in output.rglob("*"))
    assert files == [
        "pydantic",
        "pydantic/__init__.py",
        "telephone_status",
        "telephone_status/handler.py",
    ]
