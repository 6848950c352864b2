"""The log-hygiene check of conftest.py, checked itself (it must be able to fail a test).

conftest.py's `pytest_runtest_makereport` wrapper runs `flag_leaks` on every
integration test's captured output; these tests feed it known leaks, first
directly and then through a real pytest run in a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import pytest

from local.lambda_runtime import FUNCTIONS_DIR, ROOT
from tests.integration.support import (
    DEFAULT_KEY,
    PIN,
    ROTATED_KEY_PREFIX,
    VENDOR_REFERENCE,
    find_leaks,
    flag_leaks,
    get_event,
    lookup_event,
    phase_output,
    rotated_key,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv

CLEAN_LINE: Final = (
    '{"level":"INFO","message":"Status looked up","timestamp":"2026-01-15 12:00:00,163+0000",'
    '"function_request_id":"5b16322a-1632-4c2e-9f00-163220000000",'
    '"referenceId":"97A677DD3E0A42B8EA58D93D05BAC89F","upstreamStatus":100,"codeChecked":true}'
)


def _report(
    sections: list[tuple[str, str]], when: Literal["setup", "call", "teardown"] = "call"
) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid="tests/integration/test_x.py::test_y",
        location=("tests/integration/test_x.py", 1, "test_y"),
        keywords={},
        outcome="passed",
        longrepr=None,
        when=when,
        sections=sections,
    )


def test_clean_log_lines_pass() -> None:
    assert find_leaks(CLEAN_LINE) == []


@pytest.mark.parametrize(
    "line",
    [
        f'{{"level":"INFO","message":"calling upstream","key":"{DEFAULT_KEY}"}}',
        f"POST /telephonestatus.json?key={DEFAULT_KEY}&referenceid=X",
        f"Authorization failed for {DEFAULT_KEY}",
    ],
)
def test_the_sandbox_key_anywhere_is_a_leak(line: str) -> None:
    assert find_leaks(line) == ["the sandbox API key"]


def test_rotated_keys_are_leaks_registered_or_not() -> None:
    key = rotated_key()
    assert find_leaks(f'{{"apiKey": "{key}"}}') == ["a registered API key"]
    unregistered = f"{ROTATED_KEY_PREFIX}0123456789abcdef"
    assert find_leaks(f"key={unregistered}") == [f"a rotated API key ({ROTATED_KEY_PREFIX}…)"]


@pytest.mark.parametrize(
    "line",
    [
        f'{{"level":"INFO","code":"{PIN}"}}',
        f'{{"level":"INFO","code": {PIN}}}',
        f"referenceId=97A677DD3E0A42B8EA58D93D05BAC89F&code={PIN}",
        f"GET /v1/telephone-status?code={PIN}",
    ],
)
def test_a_pin_as_a_value_is_a_leak(line: str) -> None:
    assert find_leaks(line) == ["a PIN as a log value (1****)"]


@pytest.mark.parametrize(
    "line", [f"request-id-a{PIN}b", f'"id":"{PIN}0"', f"port :{PIN}7", f"x{PIN}"]
)
def test_digits_inside_other_values_are_not_a_pin(line: str) -> None:
    assert find_leaks(line) == []


def test_flag_leaks_fails_a_passing_report_without_echoing_the_key() -> None:
    report = _report([("Captured stdout call", f"key={DEFAULT_KEY}\n")])
    flag_leaks(report, phase_output(report))
    assert report.outcome == "failed"
    assert "log hygiene (call)" in str(report.longrepr)
    assert DEFAULT_KEY not in str(report.longrepr)


def test_flag_leaks_reads_only_the_reports_own_phase() -> None:
    sections = [("Captured stdout setup", f"key={DEFAULT_KEY}"), ("Captured log call", "ok")]
    report = _report(sections)
    flag_leaks(report, phase_output(report))
    assert report.outcome == "passed"
    setup = _report(sections, when="setup")
    flag_leaks(setup, phase_output(setup))
    assert setup.outcome == "failed"


LEAKY_TESTS: Final = f'''
import logging, sys

def test_prints_the_key():
    print("calling upstream with key={DEFAULT_KEY}")

def test_logs_the_pin():
    logging.getLogger("any").warning('{{"code": "{PIN}"}}')

def test_writes_a_rotated_key_to_stderr():
    sys.stderr.write("apiKey={ROTATED_KEY_PREFIX}00112233445566778899aabbccddeeff\\n")

def test_reads_the_key_through_function_output(function_output):
    print("{DEFAULT_KEY}")
    assert function_output.read()

def test_clean():
    print('{{"level": "INFO", "message": "Status looked up"}}')
'''


def test_the_hook_fails_real_tests(tmp_path: Path) -> None:
    """A real pytest run with this directory's conftest.py as a plugin: 4 leaks, 4 failures."""
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(FUNCTIONS_DIR)]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.integration.conftest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "test_leaky.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    summary = run.stdout.splitlines()[-1]
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "4 failed, 1 passed" in summary, run.stdout[-3000:]
    for name in (
        "test_prints_the_key",
        "test_logs_the_pin",
        "test_writes_a_rotated_key_to_stderr",
        "test_reads_the_key_through_function_output",
    ):
        assert f"FAILED test_leaky.py::{name}" in run.stdout
    assert "PASSED test_leaky.py::test_clean" in run.stdout
    assert run.stdout.count("log hygiene (call)") >= 4


def test_debug_logging_on_every_logger_leaks_neither_key_nor_pin(
    function_env: FunctionEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """Root at DEBUG (e.g. Lambda's log-level control): botocore must not log the secret."""
    caplog.set_level(logging.DEBUG)
    function_env.put_secret(json.dumps({"apiKey": DEFAULT_KEY}))  # a fresh secret version
    for event in (get_event(VENDOR_REFERENCE), lookup_event(VENDOR_REFERENCE, PIN)):
        assert function_env.invoke(event)["statusCode"] == 200
    assert any(record.levelno == logging.DEBUG for record in caplog.records)  # DEBUG was on
    assert find_leaks(caplog.text) == []
