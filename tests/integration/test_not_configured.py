"""NOT_CONFIGURED (docs/api.md#errors): a fresh stack's placeholder key never reaches ProxStop.

Checked before any attempt is counted or the upstream is called; a metric and an ERROR log
line saying what to do; and once the key is put in, the same request gets a real answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from telephone_status.credentials import PLACEHOLDER_API_KEY

from tests.integration.support import (
    PIN,
    VENDOR_REFERENCE,
    assert_problem,
    assert_status,
    emf_metrics,
    get_event,
    log_records,
    lookup_event,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.mark.parametrize(
    "secret_string",
    [json.dumps({"apiKey": PLACEHOLDER_API_KEY}), PLACEHOLDER_API_KEY],
    ids=["json", "bare"],
)
def test_placeholder_answers_503_without_counting_or_calling_upstream(
    function_env: FunctionEnv, function_output: FunctionOutput, secret_string: str
) -> None:
    function_env.put_secret(secret_string)
    for event in (lookup_event(VENDOR_REFERENCE, PIN), get_event(VENDOR_REFERENCE)):
        body = assert_problem(function_env.invoke(event), 503, "NOT_CONFIGURED")
        assert body["status"] == 503
    assert function_env.journal() == []  # ProxStop never saw the placeholder
    assert function_env.attempts(VENDOR_REFERENCE) is None  # no attempt counted
    text = function_output.read()
    assert emf_metrics(text)["NotConfigured"] == 2
    assert emf_metrics(text)["UpstreamRejected"] == 0
    errors = [r for r in log_records(text) if "not configured" in str(r.get("message"))]
    assert errors
    assert all(r["level"] == "ERROR" and "SecretArn" in r["message"] for r in errors)
    assert PLACEHOLDER_API_KEY not in text

    # The smoke test of the README: the key goes in, the same request gets a real answer.
    function_env.put_secret(json.dumps({"apiKey": "098f6bcd4621d373cade4e832627b4f6"}))
    function_env.set_format("json")  # a new execution environment; warm ones re-check in 60 s
    assert_status(
        function_env.invoke(lookup_event(VENDOR_REFERENCE, PIN)), VENDOR_REFERENCE, 100, True
    )
