"""Verification tokens (docs/api.md#verification-token) through the whole local stack.

The local server runs the real handler against the sandbox and moto's KMS; the
token is verified with PyJWT's `PyJWKClient` against the JWKS the server serves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
import jwt
import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from local.aws_proxy import AwsProxy
from local.dev import LOCAL_TOKEN_ISSUER
from local.emulator import local_aws_environment
from local.server import LocalApiServer, serve
from tests.integration.function_env import reset_cold_start_state
from tests.integration.support import (
    JSON_HEADERS,
    PIN,
    VENDOR_REFERENCE,
    WRONG_PIN,
    assert_problem,
    body_of,
    header,
    post_json_event,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

API: Final = "/v1/telephone-status"
JWKS: Final = "/v1/jwks.json"
SIGN: Final = "TrentService.Sign"
GET_PUBLIC_KEY: Final = "TrentService.GetPublicKey"
HTTP: Final = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=15))
AUDIENCE: Final = "https://backend.example.com"


@pytest.fixture
def api(function_env: FunctionEnv) -> Iterator[str]:
    """The local server on a free port; tokens carry an audience here."""
    function_env.monkeypatch.setenv("TOKEN_AUDIENCE", AUDIENCE)
    function_env.monkeypatch.setenv("MAX_CODE_ATTEMPTS", "20")
    reset_cold_start_state()
    server: LocalApiServer = serve(0, quiet=True)
    try:
        yield server.url
    finally:
        server.stop()


def _check(api: str, code: str | None = PIN) -> urllib3.BaseHTTPResponse:
    payload: dict[str, Any] = {"referenceId": VENDOR_REFERENCE}
    if code is not None:
        payload["code"] = code
    return HTTP.request("POST", f"{api}{API}", body=json.dumps(payload), headers=JSON_HEADERS)


def _token(api: str) -> tuple[str, str]:
    response = _check(api)
    assert response.status == 200, response.data
    verification = json.loads(response.data)["verification"]
    return verification["token"], verification["expiresAt"]


def _decode(api: str, token: str, **options: Any) -> dict[str, Any]:
    key = jwt.PyJWKClient(f"{api}{JWKS}", cache_keys=False).get_signing_key_from_jwt(token)
    options.setdefault("issuer", LOCAL_TOKEN_ISSUER)
    options.setdefault("audience", AUDIENCE)
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["ES256"], **options)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------- good tokens


@pytest.mark.usefixtures("outside_utc")  # expiresAt is UTC whatever the process's zone
def test_token_verifies_against_the_served_key_set(api: str) -> None:
    before = int(time.time())
    token, expires_at = _token(api)
    claims = _decode(api, token, options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]})
    header_members = jwt.get_unverified_header(token)
    assert set(header_members) == {"alg", "typ", "kid"}
    assert (header_members["alg"], header_members["typ"]) == ("ES256", "JWT")
    assert set(claims) == {"iss", "aud", "sub", "iat", "exp", "jti", "status"}
    assert claims["sub"] == VENDOR_REFERENCE
    assert claims["status"] == 100
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 600
    assert expires_at == datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    key_set = json.loads(HTTP.request("GET", f"{api}{JWKS}").data)
    assert header_members["kid"] == key_set["keys"][0]["kid"]

    second = _decode(api, _token(api)[0])
    assert second["jti"] != claims["jti"]


def test_without_an_audience_setting_the_token_has_no_aud(
    function_env: FunctionEnv, api: str
) -> None:
    function_env.monkeypatch.delenv("TOKEN_AUDIENCE")
    function_env.monkeypatch.setenv("TOKEN_TTL_SECONDS", "45")
    reset_cold_start_state()
    token, _ = _token(api)
    claims = _decode(api, token, audience=None)
    assert "aud" not in claims
    assert claims["exp"] - claims["iat"] == 45
    with pytest.raises(jwt.MissingRequiredClaimError):
        _decode(api, token)  # a backend that expects an audience refuses it


# --------------------------------------------------------------------------- bad tokens


def test_altered_payload_fails(api: str) -> None:
    token, _ = _token(api)
    header_part, payload_part, signature = token.split(".")
    claims = json.loads(_unb64(payload_part))
    for change in ({"sub": "0" * 32}, {"exp": claims["exp"] + 3600}, {"status": 101}):
        forged = _b64(json.dumps({**claims, **change}, separators=(",", ":")).encode())
        with pytest.raises(jwt.InvalidSignatureError):
            _decode(api, f"{header_part}.{forged}.{signature}")


def test_altered_signature_fails(api: str) -> None:
    token, _ = _token(api)
    signing_input, signature = token.rsplit(".", 1)
    raw = bytearray(_unb64(signature))
    assert len(raw) == 64
    for index in (0, 31, 32, 63):
        changed = bytearray(raw)
        changed[index] ^= 0x01
        with pytest.raises(jwt.InvalidSignatureError):
            _decode(api, f"{signing_input}.{_b64(bytes(changed))}")
    # Another token's signature does not fit this payload either.
    other_signature = _token(api)[0].rsplit(".", 1)[1]
    with pytest.raises(jwt.InvalidSignatureError):
        _decode(api, f"{signing_input}.{other_signature}")


def test_expired_token_fails(api: str) -> None:
    token, _ = _token(api)
    claims = _decode(api, token)
    ttl = claims["exp"] - claims["iat"]
    # A negative leeway moves PyJWT's clock forward: the same token, seen just after exp
    # (iat would then look "in the future" by the same shift, so only that check is off).
    with pytest.raises(jwt.ExpiredSignatureError):
        _decode(api, token, leeway=-(ttl + 1), options={"verify_iat": False})
    _decode(api, token, leeway=-(ttl - 5), options={"verify_iat": False})  # not yet expired


def test_wrong_issuer_or_audience_fails(api: str) -> None:
    token, _ = _token(api)
    with pytest.raises(jwt.InvalidIssuerError):
        _decode(api, token, issuer="https://someone-else.example.com")
    with pytest.raises(jwt.InvalidAudienceError):
        _decode(api, token, audience="https://other-backend.example.com")


# --------------------------------------------------------------------------- the key set


def test_key_set_is_rfc7517_with_an_rfc7638_kid(
    function_env: FunctionEnv, api: str, signing_key: str
) -> None:
    response = HTTP.request("GET", f"{api}{JWKS}")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    document = json.loads(response.data)
    assert set(document) == {"keys"}
    assert len(document["keys"]) == 1
    key = document["keys"][0]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
    for member in ("x", "y", "kid"):
        assert "=" not in key[member]
        assert len(_unb64(key[member])) == 32
    # RFC 7638 section 3.2, computed here independently: required members, sorted, no whitespace.
    canonical = json.dumps(
        {name: key[name] for name in ("crv", "kty", "x", "y")},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert key["kid"] == _b64(hashlib.sha256(canonical.encode()).digest())
    # The very key KMS holds.
    credentials = local_aws_environment(function_env.moto.endpoint_url)
    kms = boto3.client(
        "kms",
        endpoint_url=function_env.moto.endpoint_url,
        region_name=credentials["AWS_REGION"],
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    public = load_der_public_key(kms.get_public_key(KeyId=signing_key)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    numbers = public.public_numbers()
    assert int.from_bytes(_unb64(key["x"]), "big") == numbers.x
    assert int.from_bytes(_unb64(key["y"]), "big") == numbers.y
    # Every other response stays uncacheable.
    assert _check(api, None).headers["Cache-Control"] == "no-store"
    assert HTTP.request("POST", f"{api}{JWKS}").headers["Cache-Control"] == "no-store"


def test_key_set_methods_and_unconfigured(function_env: FunctionEnv) -> None:
    from local.lambda_runtime import build_rest_event  # noqa: PLC0415

    result = function_env.invoke(build_rest_event("POST", JWKS))
    assert_problem(result, 405, "METHOD_NOT_ALLOWED")
    assert header(result, "Allow") == "GET"
    assert header(result, "Cache-Control") == "no-store"

    function_env.monkeypatch.delenv("TOKEN_SIGNING_KEY_ID")
    reset_cold_start_state()
    result = function_env.invoke(build_rest_event("GET", JWKS))
    assert_problem(result, 404, "NOT_FOUND")
    assert header(result, "Cache-Control") == "no-store"
    answer = body_of(
        function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE, "code": PIN}))
    )
    assert (answer["codeValid"], answer["verification"]) == (True, None)


# --------------------------------------------------------------------------- cost and failure


def test_only_a_correct_pin_calls_kms(function_env: FunctionEnv, aws_proxy: AwsProxy) -> None:
    function_env.monkeypatch.setenv("MAX_CODE_ATTEMPTS", "20")
    reset_cold_start_state()
    status_only = body_of(function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE})))
    wrong = body_of(
        function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE, "code": WRONG_PIN}))
    )
    assert (status_only["verification"], wrong["verification"]) == (None, None)
    assert aws_proxy.count(SIGN) + aws_proxy.count(GET_PUBLIC_KEY) == 0

    for expected_signs in (1, 2):
        right = body_of(
            function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE, "code": PIN}))
        )
        assert right["verification"]["token"]
        assert aws_proxy.count(SIGN) == expected_signs
        assert aws_proxy.count(GET_PUBLIC_KEY) == 1  # once per execution environment


def _assert_signing_failure(result: dict[str, Any], output: str) -> None:
    problem = assert_problem(result, 503, "SERVICE_UNAVAILABLE")
    assert "signed" in problem["detail"]
    assert "eyJ" not in result["body"]  # no token, not even part of one
    assert "eyJhbGciOiJFUzI1NiI" not in output  # and none in a log line
    assert '"TokenSigningFailures"' in output


def test_a_missing_key_gives_503_and_no_token(
    function_env: FunctionEnv, function_output: FunctionOutput, signing_key: str
) -> None:
    missing = signing_key.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    function_env.monkeypatch.setenv("TOKEN_SIGNING_KEY_ID", missing)
    reset_cold_start_state()
    function_output.read()
    result = function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE, "code": PIN}))
    _assert_signing_failure(result, function_output.read())
    from local.lambda_runtime import build_rest_event  # noqa: PLC0415

    key_set = function_env.invoke(build_rest_event("GET", JWKS))
    assert_problem(key_set, 503, "SERVICE_UNAVAILABLE")
    assert header(key_set, "Cache-Control") == "no-store"


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again on return: connections refused


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_unreachable_kms_gives_503_and_no_token(
    function_env: FunctionEnv, function_output: FunctionOutput, closed_port: int
) -> None:
    # Only KMS is cut off: the attempt store (DynamoDB) still answers.
    function_env.monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{closed_port}")
    reset_cold_start_state()
    status_only = function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE}))
    assert status_only["statusCode"] == 200
    function_output.read()
    result = function_env.invoke(post_json_event({"referenceId": VENDOR_REFERENCE, "code": PIN}))
    _assert_signing_failure(result, function_output.read())


def test_silent_kms_answers_503_within_the_invocation(
    function_env: FunctionEnv, function_output: FunctionOutput, silent_server: int
) -> None:
    function_env.monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://127.0.0.1:{silent_server}")
    reset_cold_start_state()
    from local.lambda_runtime import LocalContext, ensure_functions_on_path  # noqa: PLC0415

    ensure_functions_on_path()
    from telephone_status.handler import lambda_handler  # noqa: PLC0415

    context = LocalContext(3.0)
    result = lambda_handler(
        post_json_event({"referenceId": VENDOR_REFERENCE, "code": PIN}), context
    )
    assert context.get_remaining_time_in_millis() > 0  # answered before Lambda's timeout
    _assert_signing_failure(result, function_output.read())
