"""Fixtures for the infra tests: one synthesis of every environment per test session.

Synthesis costs ~15 s (jsii start-up, bundling, cdk-nag), so all infra tests share one app
holding every environment's stack. Each test module is marked ``xdist_group("infra")`` so that
under ``pytest -n 2 --dist loadgroup`` one worker runs them all and synthesises once.
"""

from __future__ import annotations

import os

import pytest

# Tests stay offline: no attempt to download a CPython for bytecode precompilation.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

from tests.infra.infra_synth import (
    ENV_NAMES,
    SynthesizedApp,
    SynthesizedEnvironment,
    synthesize_all_environments,
)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize_all_environments(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session", params=ENV_NAMES)
def env(request: pytest.FixtureRequest, synthesized: SynthesizedApp) -> SynthesizedEnvironment:
    """Each environment of cdk.json in turn."""
    name: str = request.param
    return synthesized.environments[name]
