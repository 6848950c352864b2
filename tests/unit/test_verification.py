"""The verification token's pure parts: the strict DER readers and the TokenSigner.

KMS returns an ECDSA signature and a public key in DER; the function decodes
both by hand (no `cryptography` in the Lambda runtime). `cryptography` is the
independent reference here: what it encodes must decode, and anything that is
not exactly the expected structure must be refused with MalformedDer.

The TokenSigner and the KMS client factory run against an in-process fake KMS: exact header
and claims, the public key read once, every failure a 503 without a token, deadlines honoured.
The whole path against moto's KMS, verified with PyJWT, is in
tests/integration/test_verification.py (docs/api.md#verification-token).
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st
from telephone_status import observability
from telephone_status.aws_clients import TIERS, AwsClients
from telephone_status.deadline import Deadline
from telephone_status.verification import (
    P256_N,
    P256_P,
    TAG_INTEGER,
    MalformedDer,
    SigningFailed,
    TokenSigner,
    _compact_json,
    _read_tlv,
    b64url,
    der_p256_public_key,
    der_signature_to_raw,
    p256_jwk,
    rfc3339_utc,
)

scalars = st.integers(min_value=1, max_value=P256_N - 1)


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


P256_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
P256_SPKI = _spki(P256_KEY)


# --------------------------------------------------------------------------- signatures


@given(r=scalars, s=scalars)
def test_every_valid_signature_decodes_to_padded_r_and_s(r: int, s: int) -> None:
    raw = der_signature_to_raw(encode_dss_signature(r, s))
    assert raw == r.to_bytes(32, "big") + s.to_bytes(32, "big")


@given(data=st.binary(max_size=80))
def test_arbitrary_bytes_decode_or_are_refused(data: bytes) -> None:
    # MalformedDer or 64 bytes: never another exception, never another length.
    try:
        raw = der_signature_to_raw(data)
    except MalformedDer:
        return
    assert len(raw) == 64


@given(r=scalars, s=scalars, data=st.data())
def test_any_single_byte_change_is_refused_or_changes_the_value(
    r: int, s: int, data: st.DataObject
) -> None:
    der = encode_dss_signature(r, s)
    index = data.draw(st.integers(0, len(der) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda byte: byte != der[index]))
    changed = der[:index] + bytes([value]) + der[index + 1 :]
    try:
        raw = der_signature_to_raw(changed)
    except MalformedDer:
        return
    assert raw != r.to_bytes(32, "big") + s.to_bytes(32, "big")


@given(r=scalars, s=scalars, cut=st.integers(1, 8), extra=st.binary(min_size=1, max_size=4))
def test_truncated_or_trailing_bytes_are_refused(r: int, s: int, cut: int, extra: bytes) -> None:
    der = encode_dss_signature(r, s)
    with pytest.raises(MalformedDer):
        der_signature_to_raw(der[:-cut])
    with pytest.raises(MalformedDer):
        der_signature_to_raw(der + extra)


def _integer(content: bytes) -> bytes:
    return bytes([0x02, len(content)]) + content


def _sequence(content: bytes) -> bytes:
    return bytes([0x30, len(content)]) + content


ONE = _integer(b"\x01")


@pytest.mark.parametrize(
    "der",
    [
        b"",
        _sequence(b""),
        _sequence(ONE),  # one INTEGER only
        _sequence(ONE + ONE + ONE),  # three
        _sequence(_integer(b"\x00") + ONE),  # r = 0
        _sequence(ONE + _integer(P256_N.to_bytes(32, "big").rjust(33, b"\x00"))),  # s = n
        _sequence(_integer(b"\x00\x01") + ONE),  # non-minimal INTEGER
        _sequence(_integer(b"\x81") + ONE),  # negative INTEGER
        _sequence(_integer(b"") + ONE),  # empty INTEGER
        _sequence(ONE + bytes([0x04, 1, 1])),  # OCTET STRING instead of INTEGER
        bytes([0x31, 6]) + ONE + ONE,  # SET instead of SEQUENCE
        bytes([0x30, 0x81, 6]) + ONE + ONE,  # long-form length for a short length
        bytes([0x30, 0x80]) + ONE + ONE + b"\x00\x00",  # BER indefinite length
        _sequence(_integer(b"\x01" * 34) + ONE),  # r wider than the curve
    ],
)
def test_malformed_signatures_are_refused(der: bytes) -> None:
    with pytest.raises(MalformedDer):
        der_signature_to_raw(der)


# --------------------------------------------------------------------------- public keys


def test_a_p256_key_decodes_to_its_coordinates() -> None:
    numbers = P256_KEY.public_numbers()
    assert der_p256_public_key(P256_SPKI) == (numbers.x, numbers.y)


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP256K1(), ec.SECP521R1()])
def test_other_curves_are_refused(curve: ec.EllipticCurve) -> None:
    with pytest.raises(MalformedDer):
        der_p256_public_key(_spki(ec.generate_private_key(curve).public_key()))


def test_a_compressed_point_is_refused() -> None:
    compressed = P256_KEY.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    body = (
        bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")
        + bytes([0x03, len(compressed) + 1, 0])
        + compressed
    )
    with pytest.raises(MalformedDer):
        der_p256_public_key(bytes([0x30, len(body)]) + body)


@given(index=st.integers(0, len(P256_SPKI) - 1), value=st.integers(0, 255))
def test_any_single_byte_change_of_a_key_is_refused(index: int, value: int) -> None:
    if value == P256_SPKI[index]:
        return
    changed = P256_SPKI[:index] + bytes([value]) + P256_SPKI[index + 1 :]
    # Header bytes break the structure; a coordinate byte moves the point off the curve.
    with pytest.raises(MalformedDer):
        der_p256_public_key(changed)


@given(data=st.binary(max_size=120))
def test_arbitrary_bytes_as_a_key_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedDer):
        der_p256_public_key(data)


def test_truncated_or_extended_keys_are_refused() -> None:
    # A NULL after the BIT STRING, inside the outer SEQUENCE (its length grown to match).
    inner_trailer = bytes([0x30, P256_SPKI[1] + 2]) + P256_SPKI[2:] + b"\x05\x00"
    for broken in (P256_SPKI[:-1], P256_SPKI + b"\x00", P256_SPKI[1:], inner_trailer):
        with pytest.raises(MalformedDer):
            der_p256_public_key(broken)


# --------------------------------------------------------------------------- JWK and times


def test_jwk_members_and_thumbprint() -> None:
    import hashlib  # noqa: PLC0415

    x, y = der_p256_public_key(P256_SPKI)
    jwk = p256_jwk(x, y)
    required = {"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}
    expected = b64url(hashlib.sha256(json.dumps(required, separators=(",", ":")).encode()).digest())
    assert jwk == {**required, "kid": expected, "use": "sig", "alg": "ES256"}


def test_small_coordinates_are_left_padded() -> None:
    jwk = p256_jwk(1, 2)
    assert jwk["x"] == b64url(b"\x00" * 31 + b"\x01")
    assert jwk["y"] == b64url(b"\x00" * 31 + b"\x02")


def test_expiry_is_rfc3339_utc() -> None:
    assert rfc3339_utc(1_796_120_400) == "2026-12-01T10:20:00Z"


# --- TokenSigner and the KMS client factory, against an in-process fake KMS ----------------------

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
    assert (
        issued.expires_at == "2026-12-01T10:20:00Z"
    )  # the example in docs/api.md#success-response
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


# --- lengths at the edges of their forms; coordinates at the field prime --------------------


@pytest.mark.parametrize(
    ("encoded", "content_length"),
    [
        (bytes([0x00]), 0),  # empty content, the element ending the data
        (bytes([0x7F]), 0x7F),  # the longest short form
        (bytes([0x81, 0x80]), 0x80),  # the shortest one-byte long form
        (bytes([0x81, 0xFF]), 0xFF),
        (bytes([0x82, 0x01, 0x00]), 0x100),  # the shortest two-byte long form
    ],
    ids=["short-00", "short-7f", "long1-80", "long1-ff", "long2-100"],
)
def test_a_length_in_its_shortest_form_is_read(encoded: bytes, content_length: int) -> None:
    content = bytes(range(256))[:content_length]
    assert _read_tlv(bytes([TAG_INTEGER]) + encoded + content, 0, TAG_INTEGER) == (
        content,
        1 + len(encoded) + content_length,
    )


@pytest.mark.parametrize(
    "encoded",
    [
        bytes([0x80]),  # BER's indefinite length
        bytes([0x81, 0x7F]),  # fits the short form
        bytes([0x82, 0x00, 0xFF]),  # fits one length byte
        bytes([0x83, 0x00, 0x01, 0x00]),  # three length bytes
        bytes([0x84, 0x00, 0x00, 0x01, 0x00]),
    ],
    ids=["indefinite", "long1-7f", "long2-ff", "long3", "long4"],
)
def test_a_length_not_in_its_shortest_form_or_too_long_is_refused(encoded: bytes) -> None:
    with pytest.raises(MalformedDer):
        _read_tlv(bytes([TAG_INTEGER]) + encoded + bytes(256), 0, TAG_INTEGER)


# (0, Y) is on P-256; (p, Y) is the same point mod p, but p is no coordinate.
ZERO_X_Y = 0x66485C780E2F83D72433BD5D84A06BB6541C2AF31DAE871728BF856A174F93F4


def _key_at(x: int, y: int) -> bytes:
    return P256_SPKI[:-64] + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def test_a_coordinate_at_or_above_the_field_prime_is_refused() -> None:
    assert der_p256_public_key(_key_at(0, ZERO_X_Y)) == (0, ZERO_X_Y)
    with pytest.raises(MalformedDer):
        der_p256_public_key(_key_at(P256_P, ZERO_X_Y))


def test_base64url_is_unpadded_and_url_safe() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url(b"\x00\x00\x17") == "AAAX"


def test_compact_json_escapes_non_ascii() -> None:
    assert _compact_json({"iss": "caf\u00e9", "n": 1}) == b'{"iss":"caf\\u00e9","n":1}'


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
