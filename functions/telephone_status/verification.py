"""Verification tokens: ES256 JWS signed by an AWS KMS key, and its JWKS.

The contract: docs/api.md#verification-token.

The private key never leaves KMS: `kms:Sign` signs the JWS signing input,
`kms:GetPublicKey` gives the public key for `GET /v1/jwks.json` and the `kid`.
The public key is fetched once per execution environment and cached; a token
costs one `kms:Sign` call, made only for a correct PIN.

The Lambda runtime has no `cryptography` package (and it would weigh megabytes
in the bundle), so the two DER structures KMS returns (an ECDSA signature and a
P-256 SubjectPublicKeyInfo) are decoded by the small, strict readers below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from .deadline import Deadline
from .errors import ServiceUnavailable
from .observability import TOKEN_SIGNING_FAILURES, count, logger

if TYPE_CHECKING:
    from types_boto3_kms.client import KMSClient

ALGORITHM: Final = "ES256"
KMS_SIGNING_ALGORITHM: Final = "ECDSA_SHA_256"

# NIST P-256 (SEC 2 / FIPS 186-4): field prime, curve coefficient b, group order.
P256_P: Final = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_B: Final = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
COORDINATE_BYTES: Final = 32
# DER encodings of the OIDs id-ecPublicKey (1.2.840.10045.2.1) and prime256v1 (1.2.840.10045.3.1.7).
OID_EC_PUBLIC_KEY: Final = bytes.fromhex("2a8648ce3d0201")
OID_PRIME256V1: Final = bytes.fromhex("2a8648ce3d030107")

TAG_INTEGER: Final = 0x02
TAG_BIT_STRING: Final = 0x03
TAG_OID: Final = 0x06
TAG_SEQUENCE: Final = 0x30

KmsClientFactory = Callable[[Deadline], "KMSClient"]


class MalformedDer(ValueError):
    """The bytes are not the one DER structure expected (fail closed).

    Its messages never leave the process (a failure is logged and answered by its type
    only), so they are not mutated (`# pragma: no mutate`).
    """


# --------------------------------------------------------------------------- DER


def _read_tlv(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    """One DER element of `tag` at `offset`: its content and the offset after it.

    DER only: definite lengths in the shortest form, nothing past the end.
    """
    if offset + 2 > len(data) or data[offset] != tag:
        raise MalformedDer(f"expected tag {tag:#04x}")  # pragma: no mutate
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count_bytes = first & 0x7F
        # 0x80 is BER's indefinite length; more than 2 length bytes never occurs here.
        if count_bytes not in (1, 2) or offset + count_bytes > len(data):
            raise MalformedDer("bad length")  # pragma: no mutate
        length = int.from_bytes(data[offset : offset + count_bytes], "big")
        if length < 0x80 or (count_bytes == 2 and length < 0x100):
            raise MalformedDer("length not in its shortest form")  # pragma: no mutate
        offset += count_bytes
    end = offset + length
    if end > len(data):
        raise MalformedDer("length runs past the end")  # pragma: no mutate
    return data[offset:end], end


def _whole(data: bytes, tag: int) -> bytes:
    content, end = _read_tlv(data, 0, tag)
    if end != len(data):
        raise MalformedDer("trailing bytes")  # pragma: no mutate
    return content


def _positive_integer(content: bytes) -> int:
    if not content:
        raise MalformedDer("empty INTEGER")  # pragma: no mutate
    if content[0] & 0x80:
        raise MalformedDer("negative INTEGER")  # pragma: no mutate
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise MalformedDer("INTEGER not in its shortest form")  # pragma: no mutate
    return int.from_bytes(content, "big")


def der_signature_to_raw(der: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r‖s, 32 bytes each (RFC 7518)."""
    body = _whole(der, TAG_SEQUENCE)
    r_content, offset = _read_tlv(body, 0, TAG_INTEGER)
    s_content, offset = _read_tlv(body, offset, TAG_INTEGER)
    if offset != len(body):
        raise MalformedDer("trailing bytes in the signature")  # pragma: no mutate
    raw = b""
    for value in (_positive_integer(r_content), _positive_integer(s_content)):
        if not 0 < value < P256_N:
            raise MalformedDer("signature value out of range")  # pragma: no mutate
        raw += value.to_bytes(COORDINATE_BYTES, "big")
    return raw


def der_p256_public_key(der: bytes) -> tuple[int, int]:
    """SubjectPublicKeyInfo of an uncompressed P-256 key -> (x, y), checked on the curve."""
    body = _whole(der, TAG_SEQUENCE)
    algorithm, offset = _read_tlv(body, 0, TAG_SEQUENCE)
    bits, offset = _read_tlv(body, offset, TAG_BIT_STRING)
    if offset != len(body):
        raise MalformedDer("trailing bytes in the key")  # pragma: no mutate
    key_type, inner = _read_tlv(algorithm, 0, TAG_OID)
    curve, inner = _read_tlv(algorithm, inner, TAG_OID)
    if inner != len(algorithm) or key_type != OID_EC_PUBLIC_KEY or curve != OID_PRIME256V1:
        raise MalformedDer("not an EC key on P-256")  # pragma: no mutate
    # No unused bits, then the uncompressed point 0x04 ‖ X ‖ Y (SEC 1, section 2.3.3).
    if len(bits) != 2 + 2 * COORDINATE_BYTES or bits[0] != 0 or bits[1] != 0x04:
        raise MalformedDer("not an uncompressed P-256 point")  # pragma: no mutate
    x = int.from_bytes(bits[2 : 2 + COORDINATE_BYTES], "big")
    y = int.from_bytes(bits[2 + COORDINATE_BYTES :], "big")
    if x >= P256_P or y >= P256_P or (y * y - (x * x * x - 3 * x + P256_B)) % P256_P:
        raise MalformedDer("point is not on P-256")  # pragma: no mutate
    return x, y


# --------------------------------------------------------------------------- JOSE


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def p256_jwk(x: int, y: int) -> dict[str, str]:
    """The public JWK (RFC 7517/7518) with its RFC 7638 thumbprint as `kid`."""
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(x.to_bytes(COORDINATE_BYTES, "big")),
        "y": b64url(y.to_bytes(COORDINATE_BYTES, "big")),
    }
    # RFC 7638: the required members only, in lexicographic order, no whitespace.
    thumbprint = b64url(hashlib.sha256(_compact_json(members)).digest())
    return {**members, "kid": thumbprint, "use": "sig", "alg": ALGORITHM}


@dataclass(frozen=True)
class Verification:
    token: str
    expires_at: str  # RFC 3339, UTC, "Z"


def rfc3339_utc(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SigningFailed(ServiceUnavailable):
    default_detail = "The verification result could not be signed right now; try again shortly."


class TokenSigner:
    """Issues verification tokens and serves the key set; one per execution environment."""

    def __init__(
        self,
        *,
        key_id: str,
        issuer: str,
        audience: str | None,
        ttl_seconds: int,
        client_factory: KmsClientFactory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key_id = key_id
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._client_factory = client_factory
        self._clock = clock
        self._jwk: dict[str, str] | None = None
        self._jwk_lock = threading.Lock()

    def public_jwk(self, deadline: Deadline) -> dict[str, str]:
        """The public key as a JWK, from KMS on first use, then cached."""
        if self._jwk is None:
            with self._jwk_lock:
                if self._jwk is None:
                    response = self._client_factory(deadline).get_public_key(KeyId=self._key_id)
                    # KeySpec replaced CustomerMasterKeySpec; some emulators send only the latter.
                    spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
                    if spec != "ECC_NIST_P256" or response.get("KeyUsage") != "SIGN_VERIFY":
                        raise MalformedDer(
                            "the KMS key is not an ECC_NIST_P256 signing key"  # pragma: no mutate
                        )
                    self._jwk = p256_jwk(*der_p256_public_key(response["PublicKey"]))
        return self._jwk

    def key_set(self, deadline: Deadline) -> dict[str, list[dict[str, str]]]:
        try:
            return {"keys": [self.public_jwk(deadline)]}
        except Exception as exc:
            raise self._failure("public key unavailable", exc) from None

    def issue(
        self,
        reference_id: str,
        status_code: int,
        deadline: Deadline,
        *,
        phone_number: str | None = None,
        channel: str | None = None,
    ) -> Verification:
        """A signed token for a correct PIN; raises SigningFailed (503) on any failure.

        A verification started through the API also names its number (E.164, the claim
        name Firebase ID tokens use) and channel (docs/api.md#verification-token).
        """
        try:
            kid = self.public_jwk(deadline)["kid"]
            issued_at = int(self._clock())
            expires = issued_at + self._ttl
            claims: dict[str, Any] = {"iss": self._issuer}
            if self._audience is not None:
                claims["aud"] = self._audience
            claims |= {
                "sub": reference_id,
                "iat": issued_at,
                "exp": expires,
                "jti": secrets.token_urlsafe(16),
                "status": status_code,
            }
            if phone_number is not None:
                claims["phone_number"] = phone_number
            if channel is not None:
                claims["channel"] = channel
            header = {"alg": ALGORITHM, "typ": "JWT", "kid": kid}
            signing_input = f"{b64url(_compact_json(header))}.{b64url(_compact_json(claims))}"
            response = self._client_factory(deadline).sign(
                KeyId=self._key_id,
                Message=signing_input.encode("ascii"),
                MessageType="RAW",
                SigningAlgorithm=KMS_SIGNING_ALGORITHM,
            )
            signature = der_signature_to_raw(response["Signature"])
        except Exception as exc:
            raise self._failure("token signing failed", exc) from None
        return Verification(f"{signing_input}.{b64url(signature)}", rfc3339_utc(expires))

    @staticmethod
    def _failure(what: str, exc: Exception) -> SigningFailed:
        count(TOKEN_SIGNING_FAILURES)
        # The type only: a message could echo the request, and never the token.
        logger.error(what, extra={"error_type": type(exc).__name__})
        return SigningFailed(reason=f"{what}: {type(exc).__name__}")
