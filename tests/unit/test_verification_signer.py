"""TokenSigner and the KMS client factory as pure logic (an in-process fake KMS).

The whole path against moto's KMS, verified with PyJWT, is in
tests/integration/test_verification.py; here: exact header and claims, the
public key read once, every failure a 503 without a token, deadlines honoured.
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from telephone_status import observability
from telephone_status.aws_clients import TIERS, AwsClients
from telephone_status.deadline import Deadline
from telephone_status.verification import SigningFailed, TokenSigner

REFERENCE = "97A677DD3E0A42B8EA58D93D05BAC89F"
NOW = 1_796_119_800


class FakeKms:
    """Signs with a local P-256 key, as KMS would (DER signatures, DER public key)."""

    def __init__(self, *, signature: bytes | None = None, fail: Exception | None = None) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.signature = signature
        self.fail = fail
        self.calls: list[str] = []

    def get_public_key(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("GetPublicKey")
        assert kwargs["KeyId"] == "alias/tokens"
        return {
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "PublicKey": self.private_key.public_key().public_bytes(
                Encoding.DER, PublicFormat.SubjectPublicKeyInfo
            ),
        }

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("Sign")
        if self.fail is not None:
            raise self.fail
        assert kwargs["KeyId"] == "alias/tokens"
        assert kwargs["MessageType"] == "RAW"
        assert kwargs["SigningAlgorithm"] == "ECDSA_SHA_256"
        der = self.private_key.sign(kwargs["Message"], ec.ECDSA(hashes.SHA256()))
        return {"Signature": self.signature if self.signature is not None else der}


def _signer(kms: FakeKms, audience: str | None = "backend") -> TokenSigner:
    return TokenSigner(
        key_id="alias/tokens",
        issuer="https://api.example.com/prod",
        audience=audience,
        ttl_seconds=600,
        client_factory=lambda deadline: kms,  # type: ignore[arg-type,return-value]
        clock=lambda: NOW + 0.75,
    )


def _part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    document: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return document


@pytest.mark.usefixtures("outside_utc")  # expiresAt is UTC whatever the process's zone
def test_header_and_claims_are_exactly_the_spec() -> None:
    kms = FakeKms()
    signer = _signer(kms)
    issued = signer.issue(REFERENCE, 100, Deadline(5))
    jwk = signer.public_jwk(Deadline(5))
    assert _part(issued.token, 0) == {"alg": "ES256", "typ": "JWT", "kid": jwk["kid"]}
    claims = _part(issued.token, 1)
    assert claims == {
        "iss": "https://api.example.com/prod",
        "aud": "backend",
        "sub": REFERENCE,
        "iat": NOW,
        "exp": NOW + 600,
        "jti": claims["jti"],
        "status": 100,
    }
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) == 16  # 128 random bits
    assert issued.expires_at == "2026-12-01T10:20:00Z"  # the SPEC §4 example
    assert "aud" not in _part(
        _signer(FakeKms(), audience=None).issue(REFERENCE, 200, Deadline(5)).token, 1
    )


def test_the_public_key_is_read_once_and_jtis_differ() -> None:
    kms = FakeKms()
    signer = _signer(kms)
    tokens = [signer.issue(REFERENCE, 100, Deadline(5)).token for _ in range(3)]
    signer.key_set(Deadline(5))
    assert kms.calls == ["GetPublicKey", "Sign", "Sign", "Sign"]
    assert len({_part(token, 1)["jti"] for token in tokens}) == 3


@pytest.mark.parametrize(
    "kms",
    [
        FakeKms(fail=RuntimeError("KMS unreachable")),
        FakeKms(signature=b"\x30\x00"),  # not a signature
        FakeKms(signature=b""),
    ],
)
def test_any_signing_failure_is_a_503_without_token(kms: FakeKms) -> None:
    with pytest.raises(SigningFailed) as raised:
        _signer(kms).issue(REFERENCE, 100, Deadline(5))
    assert raised.value.status == 503
    assert raised.value.code == "SERVICE_UNAVAILABLE"
    assert "eyJ" not in raised.value.reason


def test_a_key_of_another_kind_is_refused() -> None:
    kms = FakeKms()
    original = kms.get_public_key

    def rsa_spec(**kwargs: Any) -> dict[str, Any]:
        return {**original(**kwargs), "KeySpec": "RSA_2048"}

    kms.get_public_key = rsa_spec  # type: ignore[method-assign]
    with pytest.raises(SigningFailed):
        _signer(kms).key_set(Deadline(5))


def test_no_time_left_for_kms_is_a_503_and_no_client_is_built() -> None:
    # The shared deadline-fitting factory (aws_clients), as the service wires it.
    built: list[str] = []

    class Session:
        def client(self, service_name: str, config: Any = None) -> Any:
            built.append(service_name)
            raise AssertionError("no client for a call that cannot fit")

    aws = AwsClients(session=cast(boto3.session.Session, Session()))
    signer = TokenSigner(
        key_id="alias/tokens",
        issuer="https://api.example.com/prod",
        audience=None,
        ttl_seconds=600,
        client_factory=aws.kms,
    )
    for remaining in (0.0, TIERS[-1].worst_case_seconds / 2):
        with pytest.raises(SigningFailed):
            signer.issue(REFERENCE, 100, Deadline(remaining))
    assert built == []


def test_a_signing_failure_is_logged_and_reported_by_its_type_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(observability.logger, "error", lambda msg, **kw: logged.append((msg, kw)))
    with pytest.raises(SigningFailed) as raised:
        _signer(FakeKms(fail=RuntimeError("detail that may echo a request"))).issue(
            REFERENCE, 100, Deadline(5)
        )
    assert raised.value.reason == "token signing failed: RuntimeError"
    assert logged == [("token signing failed", {"extra": {"error_type": "RuntimeError"}})]


def test_the_key_set_is_the_one_public_key_read_within_the_callers_deadline() -> None:
    kms = FakeKms()
    deadlines: list[Deadline] = []

    def factory(deadline: Deadline) -> Any:
        deadlines.append(deadline)
        return kms

    signer = TokenSigner(
        key_id="alias/tokens",
        issuer="https://api.example.com/prod",
        audience=None,
        ttl_seconds=600,
        client_factory=factory,
    )
    deadline = Deadline(5)
    assert signer.key_set(deadline) == {"keys": [signer.public_jwk(Deadline(5))]}
    assert deadlines == [deadline]
    signer._jwk = None  # a fresh environment: the token reads the key, then signs
    signer.issue(REFERENCE, 100, deadline)
    assert deadlines == [deadline] * 3


def test_an_unreadable_public_key_is_reported_by_its_type_only() -> None:
    kms = FakeKms()

    def unreachable(**kwargs: Any) -> dict[str, Any]:
        raise TimeoutError("detail")

    kms.get_public_key = unreachable  # type: ignore[method-assign]
    with pytest.raises(SigningFailed) as raised:
        _signer(kms).key_set(Deadline(5))
    assert raised.value.reason == "public key unavailable: TimeoutError"


def test_a_key_spec_under_its_former_name_is_read() -> None:
    """Some emulators answer CustomerMasterKeySpec only (KeySpec's former name)."""
    kms = FakeKms()
    original = kms.get_public_key

    def former_name(**kwargs: Any) -> dict[str, Any]:
        answer = original(**kwargs)
        return {
            **{k: v for k, v in answer.items() if k != "KeySpec"},
            "CustomerMasterKeySpec": "ECC_NIST_P256",
        }

    kms.get_public_key = former_name  # type: ignore[method-assign]
    assert _signer(kms).key_set(Deadline(5))["keys"][0]["crv"] == "P-256"
