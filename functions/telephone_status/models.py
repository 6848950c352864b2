"""Pydantic models: the request (SPEC §3), the success body (§4), the problem body (§5)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from .catalogue import Channel, State

REFERENCE_ID_PATTERN: Final = re.compile(r"[0-9A-Fa-f]{32}")
# [0-9], not \d: \d also matches non-ASCII digits such as "١٢٣".
CODE_PATTERN: Final = re.compile(r"[1-9][0-9]{2,4}")
REFERENCE_ID_MESSAGE: Final = "must be exactly 32 hexadecimal characters"
CODE_MESSAGE: Final = "must be a PIN of 3 to 5 digits (100-99999) without a leading zero"

_REFERENCE_ID_SCHEMA: Final[dict[str, Any]] = {
    "type": "string",
    "pattern": "^[0-9A-Fa-f]{32}$",
    "description": "Reference id returned by the call/SMS request (any case).",
    "examples": ["97A677DD3E0A42B8EA58D93D05BAC89F"],
}
_CODE_SCHEMA: Final[dict[str, Any]] = {
    "oneOf": [
        {"type": "string", "pattern": "^[1-9][0-9]{2,4}$"},
        {"type": "integer", "minimum": 100, "maximum": 99999},
    ],
    "description": "The PIN as typed by the user. Prefer POST: it keeps the PIN out of URLs.",
    "examples": ["16322"],
}


class TelephoneStatusRequest(BaseModel):
    """One status lookup. The same rules apply to query, JSON and form input."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    reference_id: Annotated[str, Field(alias="referenceId"), WithJsonSchema(_REFERENCE_ID_SCHEMA)]
    code: Annotated[str | None, WithJsonSchema(_CODE_SCHEMA)] = None

    @field_validator("reference_id", mode="before")
    @classmethod
    def _canonical_reference_id(cls, value: object) -> str:
        if not isinstance(value, str) or not REFERENCE_ID_PATTERN.fullmatch(value):
            raise ValueError(REFERENCE_ID_MESSAGE)
        return value.upper()

    @field_validator("code", mode="before")
    @classmethod
    def _plain_pin(cls, value: object) -> str:
        # Only runs for a code that was sent: JSON null is not "no code".
        # JSON Schema (and so the OpenAPI document) counts 16322.0 as an integer.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        # bool is an int subclass: `true` must not become the PIN "1".
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not CODE_PATTERN.fullmatch(value):
            raise ValueError(CODE_MESSAGE)
        return value


class StatusBody(BaseModel):
    code: int = Field(description="The upstream three-digit status code.", examples=[100])
    channel: Channel
    state: State
    description: str | None = Field(
        description="ProxStop's short description, or null for an unpublished code."
    )


class TelephoneStatusResponse(BaseModel):
    """The one clean shape every upstream answer is turned into."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    reference_id: str = Field(alias="referenceId", examples=["97A677DD3E0A42B8EA58D93D05BAC89F"])
    status: StatusBody
    code_valid: bool | None = Field(
        alias="codeValid",
        description="true: the PIN matches; false: it does not; null: no PIN was checked.",
    )
    verification: VerificationBody | None = Field(
        default=None,
        description="With codeValid true and token signing configured: a token the client's "
        "backend verifies (SPEC §9); otherwise null.",
    )


class VerificationBody(BaseModel):
    """A signed token the client hands to its own backend (SPEC §9)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    token: str = Field(
        description="Compact JWS (ES256); verify it against GET /v1/jwks.json.",
        examples=["eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Ii4uLiJ9.eyJpc3MiOi4uLn0.c2ln"],
    )
    expires_at: str = Field(
        alias="expiresAt",
        description="When the token expires (its exp claim), RFC 3339 in UTC.",
        examples=["2026-12-01T10:20:00Z"],
    )


class JsonWebKey(BaseModel):
    """An EC P-256 public key (RFC 7517, RFC 7518 §6.2); `kid` is its RFC 7638 thumbprint."""

    model_config = ConfigDict(frozen=True)

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str = Field(pattern="^[A-Za-z0-9_-]{43}$")
    y: str = Field(pattern="^[A-Za-z0-9_-]{43}$")
    kid: str = Field(pattern="^[A-Za-z0-9_-]{43}$")
    use: Literal["sig"]
    alg: Literal["ES256"]


class JsonWebKeySet(BaseModel):
    model_config = ConfigDict(frozen=True)

    keys: list[JsonWebKey]


class FieldErrorBody(BaseModel):
    field: str
    message: str


class ProblemBody(BaseModel):
    """RFC 9457 problem details, with the API's own `code` and `requestId`."""

    model_config = ConfigDict(populate_by_name=True)

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    request_id: str = Field(alias="requestId")
    errors: list[FieldErrorBody] | None = None
