"""`make smoke ENV=<name>`: one real request to the deployed API, judged by what it should say.

Before the ProxStop key is in, the API must answer 503 NOT_CONFIGURED (the deployment works,
the key is missing); after, a well-formed answer from ProxStop: 200 with a status, or 404
UNKNOWN_REFERENCE for the made-up reference id used here. ``--expect auto`` (the default) reads
the stack's secret to know which; the URL and API key come from the stack's outputs.
``--api-url`` points it elsewhere (e.g. the local server of ``make run``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

from infra.config import ConfigurationError
from tools.deploy.aws import DeployError, client, describe_stack, environment, session
from tools.deploy.secret_value import is_placeholder

# Any well-formed id (32 hex characters): a malformed one is a 400 before the key is read.
SMOKE_REFERENCE_ID: Final = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"
API_KEY_ENV: Final = "SMOKE_API_KEY"
TIMEOUT: Final = urllib3.Timeout(connect=5.0, read=30.0)
Expectation = Literal["not-configured", "configured"]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str


def _problem(body: Any, status: int) -> str | None:
    """The ``code`` of an RFC 9457 body of this service with this status, else None."""
    if (
        isinstance(body, dict)
        and body.get("status") == status
        and isinstance(body.get("code"), str)
        and isinstance(body.get("title"), str)
        and "type" in body
    ):
        return str(body["code"])
    return None


def _status_answer(body: Any) -> bool:
    """A 200 body of the documented shape for a status-only lookup."""
    if not isinstance(body, dict) or not isinstance(body.get("status"), dict):
        return False
    status = body["status"]
    return (
        body.get("referenceId") == SMOKE_REFERENCE_ID
        and isinstance(status.get("code"), int)
        and status.get("channel") in {"call", "sms", "unknown"}
        and isinstance(status.get("final"), bool)
    )


def judge(status: int, content_type: str, raw: bytes, expect: Expectation) -> Verdict:
    """Whether one answer is what a working deployment says (pure: tested on its own)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return Verdict(False, f"HTTP {status} with a body that is not JSON ({content_type!r})")
    code = _problem(body, status)
    if expect == "not-configured":
        if status == 503 and code == "NOT_CONFIGURED":
            return Verdict(True, "503 NOT_CONFIGURED: deployed; put the key in (make put-key)")
        return Verdict(False, f"expected 503 NOT_CONFIGURED, got HTTP {status} {code or body!r}")
    if status == 200 and content_type.startswith("application/json") and _status_answer(body):
        return Verdict(True, f"200: ProxStop answered (status code {body['status']['code']})")
    if status == 404 and code == "UNKNOWN_REFERENCE":
        return Verdict(True, "404 UNKNOWN_REFERENCE: ProxStop answered for the made-up id")
    if code == "UPSTREAM_REJECTED":
        return Verdict(False, "502 UPSTREAM_REJECTED: ProxStop refused the key (make put-key)")
    if code == "NOT_CONFIGURED":
        return Verdict(False, "503 NOT_CONFIGURED: the secret still holds no usable key")
    return Verdict(False, f"unexpected answer: HTTP {status} {code or body!r}")


def request(api_url: str, api_key: str | None) -> tuple[int, str, bytes]:
    headers = {"accept": "application/json"}
    if api_key:
        headers["x-api-key"] = api_key
    http = urllib3.PoolManager(timeout=TIMEOUT, retries=False)
    response = http.request(
        "GET", api_url, fields={"referenceId": SMOKE_REFERENCE_ID}, headers=headers
    )
    return response.status, str(response.headers.get("content-type", "")), response.data


def _from_stack(env_name: str) -> tuple[str, str | None, Expectation]:
    config = environment(env_name)
    current = session()
    stack = describe_stack(client(current, "cloudformation"), config.stack_name)
    if "ApiUrl" not in stack.outputs:
        raise DeployError(f"{config.stack_name} has no ApiUrl output: make deploy ENV={env_name}")
    api_key = None
    if "ApiKeyId" in stack.outputs:
        api_key = client(current, "apigateway").get_api_key(
            apiKey=stack.outputs["ApiKeyId"], includeValue=True
        )["value"]
    secret = client(current, "secretsmanager").get_secret_value(SecretId=stack.outputs["SecretArn"])
    placeholder = is_placeholder(str(secret.get("SecretString", "")))
    return stack.outputs["ApiUrl"], api_key, "not-configured" if placeholder else "configured"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name in cdk.json")
    parser.add_argument("--api-url", help="call this URL instead of the stack's ApiUrl")
    parser.add_argument(
        "--expect", choices=["auto", "not-configured", "configured"], default="auto"
    )
    args = parser.parse_args(argv)
    try:
        if args.api_url:
            if args.expect == "auto":
                parser.error("--api-url needs --expect not-configured or configured")
            api_url, api_key, expect = args.api_url, os.environ.get(API_KEY_ENV), args.expect
        else:
            api_url, api_key, expect = _from_stack(args.env)
            if args.expect != "auto":
                expect = args.expect
        status, content_type, raw = request(api_url, api_key)
    except (ConfigurationError, DeployError) as error:
        print(f"smoke: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, urllib3.exceptions.HTTPError) as error:
        print(f"smoke: {error}", file=sys.stderr)
        return 2
    verdict = judge(status, content_type, raw, expect)
    print(f"smoke {'ok' if verdict.ok else 'FAILED'}: GET {api_url}: {verdict.message}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
