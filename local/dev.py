"""`make run`: the whole API on 127.0.0.1 with no AWS account and no Docker.

Starts the AWS emulator (moto) and the ProxStop sandbox on free ports,
provisions the API-key secret and the attempts table, configures the function
through its real environment variables, then serves it on 127.0.0.1:$PORT
(default 3000), and the demo page on http://localhost:$DEMO_PORT (default 3001): another
origin, allowed by the function's CORS_ALLOW_ORIGINS, so a browser really does CORS.
Ctrl-C or SIGTERM stops everything it started.

Starting verifications is on (START_COUNTRIES, default US,GB; the test number
+1 202 555 0123 with PIN 24680 in TEST_NUMBERS), and the sandbox listens on
127.0.0.1:$SANDBOX_PORT (default 3002) so that its inbox has a fixed address:
curl -s 'http://127.0.0.1:3002/inbox?phoneNumber=%2B12025550142'. When 3002 is
taken and SANDBOX_PORT is unset, a free port is used (the banner says which).

The demo page is served on http://localhost:$DEMO_PORT (default 3001): another origin,
allowed by the function's CORS_ALLOW_ORIGINS, so a browser really does CORS.

Environment it honours: PORT; DEMO_PORT; CORS_ALLOW_ORIGINS (default the demo page's
origin); SANDBOX_PORT; START_COUNTRIES; TEST_NUMBERS;
PROXSTOP_API_URL (use that upstream instead of starting the sandbox; its key
is then read from PROXSTOP_API_KEY, default the sandbox key); PROXSTOP_FORMAT
(json); MAX_CODE_ATTEMPTS (5); MAX_CODE_CHECKS (20, read by the function from the
environment as is).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Final, NoReturn

from local.demo import DEFAULT_DEMO_PORT, DemoServer, bind_demo
from local.emulator import (
    DEFAULT_REGION,
    DEFAULT_SECRET_NAME,
    DEFAULT_TABLE_NAME,
    create_signing_key,
    local_aws_environment,
    provision,
    start_moto,
)
from local.httpbase import LISTEN_HOST
from local.sandbox import (
    DEFAULT_KEY,
    PIN,
    VENDOR_REFERENCE,
    SandboxServer,
    fault_reference,
    start_sandbox,
    status_reference,
)
from local.server import DEFAULT_PORT, LocalApiServer

API_PATH: Final = "/v1/telephone-status"
START_PATH: Final = "/v1/verifications"
DEFAULT_SANDBOX_PORT: Final = 3002
DEFAULT_START_COUNTRIES: Final = "US,GB"
# A fictional number (never a subscriber's) with a fixed PIN, as an app-store reviewer uses.
DEFAULT_TEST_NUMBERS: Final = '{"+12025550123": "24680"}'
WALKTHROUGH_NUMBER: Final = "+12025550142"
JWKS_PATH: Final = "/v1/jwks.json"
# `iss` of locally signed tokens (TOKEN_ISSUER; the deployed default is the API's base URL).
LOCAL_TOKEN_ISSUER: Final = "http://127.0.0.1/local"  # noqa: S105 (a URL, not a secret)
UNKNOWN_REFERENCE: Final = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"
# Variables that would send boto3 elsewhere than the emulator (a profile, a
# session token, or a service-specific endpoint that beats AWS_ENDPOINT_URL).
_AWS_OVERRIDES: Final = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def function_environment(
    *,
    endpoint_url: str,
    api_url: str,
    secret_name: str,
    table_name: str,
    upstream_format: str = "json",
    max_code_attempts: str = "5",
    region: str = DEFAULT_REGION,
    signing_key_id: str | None = None,
    token_issuer: str = LOCAL_TOKEN_ISSUER,
    cors_allow_origins: str | None = None,
    start_countries: str | None = None,
    test_numbers: str | None = None,
) -> dict[str, str]:
    """The function's environment (docs/configuration.md) for a local run against the emulator."""
    tokens = (
        {"TOKEN_SIGNING_KEY_ID": signing_key_id, "TOKEN_ISSUER": token_issuer}
        if signing_key_id
        else {}
    )
    cors = {} if cors_allow_origins is None else {"CORS_ALLOW_ORIGINS": cors_allow_origins}
    starts = {"START_COUNTRIES": start_countries} if start_countries else {}
    if start_countries and test_numbers:
        starts["TEST_NUMBERS"] = test_numbers
    return {
        **tokens,
        **cors,
        **starts,
        "PROXSTOP_SECRET_ID": secret_name,
        "PROXSTOP_API_URL": api_url,
        "PROXSTOP_FORMAT": upstream_format,
        "ATTEMPTS_TABLE_NAME": table_name,
        "MAX_CODE_ATTEMPTS": max_code_attempts,
        "POWERTOOLS_SERVICE_NAME": "telephone-status",
        "POWERTOOLS_METRICS_NAMESPACE": "TelephoneStatus",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **local_aws_environment(endpoint_url, region),
    }


def conflicting_aws_variables(environ: Mapping[str, str]) -> list[str]:
    """Names that must be removed so that every AWS call reaches the emulator."""
    return [
        name for name in environ if name in _AWS_OVERRIDES or name.startswith("AWS_ENDPOINT_URL_")
    ]


def _banner(base: str, sandbox_url: str | None, demo: DemoServer) -> str:
    lines = [
        "",
        f"Telephone Status API: {base}{API_PATH}",
        f"Demo page: {demo.page_url}  (another origin; allowed origins:"
        f" {os.environ.get('CORS_ALLOW_ORIGINS', '*')})",
        "",
    ]
    if sandbox_url is not None:
        lines += [
            f"ProxStop sandbox: {sandbox_url} (fault list: {sandbox_url}/_sandbox/faults)",
            "Reference ids worth trying:",
            f"  {VENDOR_REFERENCE}  vendor example, status 100, PIN {PIN}",
            f"  {status_reference(203)}  any status: 29 zeros + NNN (here 203, SMS pending)",
            f"  {UNKNOWN_REFERENCE}  unknown reference -> 404",
            f"  {fault_reference(1)}  slow upstream -> 504",
            f"  {fault_reference(4)}  upstream 503 -> 503",
            f"  {fault_reference(8)}  the vendor's own (invalid) JSON sample",
            "",
        ]
    lines += [
        "Try:",
        f"  curl -s '{base}{API_PATH}?referenceId={VENDOR_REFERENCE}'",
        f"  curl -s -X POST {base}{API_PATH} -H 'Content-Type: application/json'"
        f' -d \'{{"referenceId":"{VENDOR_REFERENCE}","code":"{PIN}"}}\'',
        f"  curl -s {base}{JWKS_PATH}   (the key that verifies verification.token)",
        "",
        "Start a verification (the PIN lands in the sandbox's inbox):",
        f"  curl -s -X POST {base}{START_PATH} -H 'Content-Type: application/json'"
        f' -d \'{{"phoneNumber":"{WALKTHROUGH_NUMBER}","channel":"sms"}}\'',
    ]
    if sandbox_url is not None:
        lines.append(
            f"  curl -s '{sandbox_url}/inbox?phoneNumber={WALKTHROUGH_NUMBER.replace('+', '%2B')}'"
        )
    lines += [
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


@dataclass(frozen=True)
class LocalStack:
    """What `local_stack` started besides moto: the sandbox, unless PROXSTOP_API_URL was used."""

    sandbox: SandboxServer | None

    @property
    def sandbox_url(self) -> str | None:
        return None if self.sandbox is None else self.sandbox.url


@contextlib.contextmanager
def local_stack(
    *,
    upstream_format: str | None = None,
    max_code_attempts: str | None = None,
    external_upstream: bool = True,
    cors_allow_origins: str | None = None,
    starts: bool = False,
    sandbox_port: int = 0,
) -> Iterator[LocalStack]:
    """Moto (+ the sandbox unless PROXSTOP_API_URL is set), provisioned, and the
    function's environment in os.environ; stops what it started on the way out.

    `upstream_format` and `max_code_attempts` default to PROXSTOP_FORMAT (json) and
    MAX_CODE_ATTEMPTS (5); `external_upstream=False` ignores PROXSTOP_API_URL and
    always starts the sandbox. `starts=True` turns the start route on (START_COUNTRIES,
    TEST_NUMBERS from the environment, else the local defaults); `sandbox_port` is where
    the sandbox listens (0: a free port). `cors_allow_origins` sets
    CORS_ALLOW_ORIGINS (else left as is).
    """
    with contextlib.ExitStack() as running:
        moto = running.enter_context(start_moto())
        user_api_url = os.environ.get("PROXSTOP_API_URL", "").strip() if external_upstream else ""
        sandbox: SandboxServer | None = None
        if user_api_url:
            api_url = user_api_url
            key = os.environ.get("PROXSTOP_API_KEY", DEFAULT_KEY)
        else:
            sandbox = running.enter_context(_sandbox_on(sandbox_port))
            api_url = sandbox.url
            key = DEFAULT_KEY
        provision(
            moto.endpoint_url,
            secret_name=DEFAULT_SECRET_NAME,
            secret_value=json.dumps({"apiKey": key}),
            table_name=DEFAULT_TABLE_NAME,
        )
        signing_key_id = create_signing_key(moto.endpoint_url)
        for name in conflicting_aws_variables(os.environ):
            del os.environ[name]
        if upstream_format is None:
            upstream_format = os.environ.get("PROXSTOP_FORMAT", "json")
        if max_code_attempts is None:
            max_code_attempts = os.environ.get("MAX_CODE_ATTEMPTS", "5")
        os.environ.update(
            function_environment(
                endpoint_url=moto.endpoint_url,
                api_url=api_url,
                secret_name=DEFAULT_SECRET_NAME,
                table_name=DEFAULT_TABLE_NAME,
                upstream_format=upstream_format,
                max_code_attempts=max_code_attempts,
                signing_key_id=signing_key_id,
                token_issuer=os.environ.get("TOKEN_ISSUER") or LOCAL_TOKEN_ISSUER,
                cors_allow_origins=cors_allow_origins,
                start_countries=(
                    os.environ.get("START_COUNTRIES", DEFAULT_START_COUNTRIES) if starts else None
                ),
                test_numbers=os.environ.get("TEST_NUMBERS", DEFAULT_TEST_NUMBERS),
            )
        )
        yield LocalStack(sandbox)


@contextlib.contextmanager
def serve_stack(
    api: LocalApiServer,
    demo: DemoServer,
    *,
    cors_allow_origins: str,
    max_code_attempts: str | None = None,
    sandbox_port: int = 0,
) -> Iterator[LocalStack]:
    """`make run` around two bound servers: the `local_stack`, then the API and the demo page
    served; everything stopped on the way out (browser tests start the same on free ports)."""
    # Like the deployed default, tokens name the API's own base URL as their issuer.
    os.environ.setdefault("TOKEN_ISSUER", api.url)
    with contextlib.ExitStack() as running:
        running.callback(api.server_close)
        running.callback(demo.server_close)
        stack = running.enter_context(
            local_stack(
                cors_allow_origins=cors_allow_origins,
                max_code_attempts=max_code_attempts,
                starts=True,
                sandbox_port=sandbox_port,
            )
        )
        demo.sandbox_url = stack.sandbox_url
        api.start("local-api")
        running.callback(api.stop)
        demo.start("local-demo")
        running.callback(demo.stop)
        yield stack


def _port(name: str, default: int) -> int | None:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        print(f"{name} must be a TCP port number, not {raw!r}", file=sys.stderr)
        return None
    return int(raw)


def _sandbox_on(port: int) -> SandboxServer:
    """The sandbox on `port`; a free port instead when the default one is taken."""
    try:
        return start_sandbox(port, DEFAULT_KEY)
    except OSError:
        if port == 0 or "SANDBOX_PORT" in os.environ:
            raise
        return start_sandbox(0, DEFAULT_KEY)


def main() -> int:
    raw_sandbox_port = os.environ.get("SANDBOX_PORT", str(DEFAULT_SANDBOX_PORT))
    if not raw_sandbox_port.isdigit() or not 0 <= int(raw_sandbox_port) < 65536:
        print(f"SANDBOX_PORT must be a TCP port number, not {raw_sandbox_port!r}", file=sys.stderr)
        return 2
    port = _port("PORT", DEFAULT_PORT)
    demo_port = _port("DEMO_PORT", DEFAULT_DEMO_PORT)
    if port is None or demo_port is None:
        return 2
    # SIGTERM unwinds like Ctrl-C, so that every child and thread is stopped in order.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        api = LocalApiServer((LISTEN_HOST, port))
    except OSError as error:
        print(
            f"Cannot listen on {LISTEN_HOST}:{port}: {error.strerror}. Set PORT to a free port.",
            file=sys.stderr,
        )
        return 1
    try:
        demo = bind_demo(demo_port, api_url=api.url)
    except OSError as error:
        api.server_close()
        print(
            f"Cannot listen on {LISTEN_HOST}:{demo_port}: {error.strerror}."
            " Set DEMO_PORT to a free port.",
            file=sys.stderr,
        )
        return 1

    # The demo page's origin is allowed unless the shell chose the allowed origins itself.
    cors_allow_origins = os.environ.get("CORS_ALLOW_ORIGINS") or demo.origin
    with contextlib.ExitStack() as running:
        try:
            stack = running.enter_context(
                serve_stack(
                    api,
                    demo,
                    cors_allow_origins=cors_allow_origins,
                    sandbox_port=int(raw_sandbox_port),
                )
            )
            print(_banner(api.url, stack.sandbox_url, demo), flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            # A second Ctrl-C must not cut the clean-up short and orphan moto.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("\nStopping...", flush=True)
        except Exception as error:  # startup failed: say why in one line, then clean up
            print(f"Startup failed: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
