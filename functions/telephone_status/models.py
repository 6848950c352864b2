"""Pydantic models: the request, the success body, the problem body (docs/api.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from .catalogue import Channel, State, is_final, retryable_of

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
    "description": (
        "The PIN as typed by the user: a string of 3 to 5 ASCII digits without a leading"
        " zero (100-99999), or a JSON integer literal of that value; a fraction or exponent"
        " (16322.0, 1e4) is rejected. Prefer POST: it keeps the PIN out of URLs."
    ),
    "examples": ["16322"],
}


# TelephoneStatusRequest's JSON schema for the OpenAPI document, written out so that the
# handler's import (a cold start) does not build it; a unit test keeps the two identical.
REQUEST_FIELDS_SCHEMA: Final[dict[str, Any]] = {
    "additionalProperties": False,
    "description": (
        "One status lookup: the same rules for a GET query string and a POST JSON or form body."
    ),
    "properties": {
        "referenceId": {**_REFERENCE_ID_SCHEMA, "title": "Referenceid"},
        "code": {"default": None, **_CODE_SCHEMA, "title": "Code"},
    },
    "required": ["referenceId"],
    "title": "TelephoneStatusRequest",
    "type": "object",
}


class TelephoneStatusRequest(BaseModel):
    """One status lookup: the same rules for a GET query string and a POST JSON or form body."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    reference_id: Annotated[str, Field(alias="referenceId"), WithJsonSchema(_REFERENCE_ID_SCHEMA)]
    code: Annotated[str | None, WithJsonSchema(_CODE_SCHEMA)] = None

    @field_validator("reference_id", mode="before")
    @classmethod
    def _canonical_reference_id(cls, value: object) -> str:
        return canonical_reference_id(value)

    @field_validator("code", mode="before")
    @classmethod
    def _plain_pin(cls, value: object) -> str:
        # Only runs for a code that was sent: JSON null is not "no code".
        return canonical_code(value)


def canonical_reference_id(value: object) -> str:
    """docs/api.md#request: 32 ASCII hex characters, upper-cased; raises ValueError otherwise."""
    if not isinstance(value, str) or not REFERENCE_ID_PATTERN.fullmatch(value):
        raise ValueError(REFERENCE_ID_MESSAGE)
    # Only ASCII reaches here, so upper() cannot fold a ligature such as "\ufb00" into "FF".
    return value.upper()


def canonical_code(value: object) -> str:
    """A PIN string, or a JSON integer literal (int); raises ValueError otherwise.

    The rule: docs/api.md#request.

    A JSON fraction or exponent (16322.0, 1e4) never arrives as an int: the request
    parser keeps such literals as JsonNumberText, which is neither str nor int here.
    """
    # bool is an int subclass: `true` must not become the PIN "1".
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if type(value) is not str or not CODE_PATTERN.fullmatch(value):
        raise ValueError(CODE_MESSAGE)
    return value


def _always_present(*names: str) -> Callable[[dict[str, Any]], None]:
    """JSON Schema fix-up: fields with a Python default that every response still carries."""

    def fix(schema: dict[str, Any]) -> None:
        required: list[str] = schema.setdefault("required", [])
        required.extend(name for name in names if name not in required)
        for name in names:
            schema["properties"][name].pop("default", None)

    return fix


class StatusBody(BaseModel):
    model_config = ConfigDict(json_schema_extra=_always_present("final", "retryable"))

    code: int = Field(description="The upstream three-digit status code.", examples=[100])
    channel: Channel
    state: State
    description: str | None = Field(
        description="ProxStop's short description, or null for an unpublished code."
    )
    # Defaults only for type checkers: _from_catalogue always sets both from the code.
    final: bool = Field(
        default=False,
        description="true when the state can no longer change (delivered, failed).",
    )
    retryable: bool | None = Field(
        default=None,
        description=(
            "Only for a failed state: true when a new call/SMS to the same number may well "
            "succeed, false when it will not on that channel; null otherwise."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _from_catalogue(cls, data: Any) -> Any:
        # Both follow from the code alone (catalogue.py): fill them in wherever the body is built.
        if isinstance(data, dict) and isinstance(data.get("code"), int):
            code = data["code"]
            return {"final": is_final(code), "retryable": retryable_of(code), **data}
        return data


class TelephoneStatusResponse(BaseModel):
    """The one clean shape every upstream answer is turned into."""

    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        json_schema_extra=_always_present("attemptsRemaining"),
    )

    reference_id: str = Field(alias="referenceId", examples=["97A677DD3E0A42B8EA58D93D05BAC89F"])
    status: StatusBody
    code_valid: bool | None = Field(
        alias="codeValid",
        description="true: the PIN matches; false: it does not; null: no PIN was checked.",
    )
    attempts_remaining: int | None = Field(
        default=None,
        ge=0,
        alias="attemptsRemaining",
        description=(
            "When a PIN was checked: how many more distinct PINs may be tried for this "
            "reference id in the current window; null for a status-only lookup."
        ),
    )
    verification: VerificationBody | None = Field(
        default=None,
        description="With codeValid true and token signing configured: a token the client's "
        "backend verifies (docs/api.md#verification-token); otherwise null.",
    )


class VerificationBody(BaseModel):
    """A signed token the client hands to its own backend (docs/api.md#verification-token)."""

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
    """An EC P-256 public key (RFC 7517, RFC 7518 section 6.2); `kid` is its RFC 7638 thumbprint."""

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
    attempts_remaining: int | None = Field(
        default=None,
        alias="attemptsRemaining",
        description="On 429 TOO_MANY_ATTEMPTS: 0 (no further PIN may be tried in this window).",
    )


# POST /v1/verifications, for the OpenAPI document (plain data: the route's own parser is
# request.parse_start_request, and its module is imported only when the route is called).
START_REQUEST_SCHEMA: Final[dict[str, Any]] = {
    "title": "StartVerificationRequest",
    "type": "object",
    "additionalProperties": False,
    "required": ["phoneNumber", "channel"],
    "properties": {
        "phoneNumber": {
            "type": "string",
            "pattern": "^\\+[1-9][0-9]{7,14}$",
            "description": "E.164, without spaces or punctuation; a valid number for its"
            " region that can receive a verification (no premium rate, toll free, shared"
            " cost, UAN, pager, voicemail or personal numbers; fixed line by call only).",
            "examples": ["+12025550142"],
        },
        "channel": {"type": "string", "enum": ["sms", "call"]},
        "locale": {
            "type": "string",
            "enum": ["en", "es", "fr", "de", "it", "pt", "pl", "ru", "he", "ja", "ko", "zh"],
            "default": "en",
            "description": "Language of the call's voice; accepted and ignored for sms.",
        },
    },
}
START_RESPONSE_SCHEMA: Final[dict[str, Any]] = {
    "title": "StartVerificationResponse",
    "type": "object",
    "required": [
        "referenceId",
        "channel",
        "phoneNumber",
        "expiresAt",
        "resendAfter",
        "sendsRemaining",
    ],
    "properties": {
        "referenceId": {**_REFERENCE_ID_SCHEMA, "description": "Check the PIN with this id."},
        "channel": {"type": "string", "enum": ["sms", "call"]},
        "phoneNumber": {
            "type": "string",
            "description": "The number, masked: country code and last 4 digits.",
            "examples": ["+1******0142"],
        },
        "expiresAt": {
            "type": "string",
            "format": "date-time",
            "description": "Until when the PIN can be checked (RFC 3339, UTC).",
        },
        "resendAfter": {
            "type": "string",
            "format": "date-time",
            "description": "When the next send to this number is allowed (RFC 3339, UTC).",
        },
        "sendsRemaining": {
            "type": "integer",
            "minimum": 0,
            "description": "Sends still allowed to this number in the current hour.",
        },
    },
}
