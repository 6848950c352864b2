"""Turns an API Gateway event into a validated TelephoneStatusRequest (docs/api.md#request).

Query string, JSON body and form body are flattened into (name, value) pairs
first, so that one pydantic model applies the same rules to all three.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from .errors import FieldError, InvalidRequest
from .models import TelephoneStatusRequest, canonical_code, canonical_reference_id

MAX_BODY_BYTES: Final = 4096
MAX_FIELDS: Final = 16
FIELD_ALIASES: Final = {"referenceId": "referenceId", "referenceid": "referenceId", "code": "code"}
JSON_TYPES: Final = ("application/json",)
FORM_TYPE: Final = "application/x-www-form-urlencoded"
QUERY_ON_POST: Final = "a POST takes its fields from the body only, not from the query string"
QUERY_MAPS_DISAGREE: Final = "queryStringParameters and multiValueQueryStringParameters disagree"
CANONICAL: Final = {"referenceId": canonical_reference_id, "code": canonical_code}
# Error prose, kept out of the functions (mutation testing varies code, not wording).
UNSUPPORTED_MEDIA_TYPE: Final = "must be application/json or application/x-www-form-urlencoded"
NOT_A_CHARSET: Final = "the charset parameter is not a charset name"
NOT_UTF8: Final = "the body must be UTF-8 (or read the same in its charset)"
EMPTY_NAME: Final = "(empty name)"
UNDECODABLE_BASE64: Final = "the base64 body could not be decoded"
# RFC 9110 token: a charset name is ASCII; "utf 8" or a Unicode hyphen is no name at all.
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED_PAIR: Final = re.compile(r"\\(.)")


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object kept as its pairs, so that a repeated key stays visible."""


@dataclass(frozen=True)
class JsonNumberText:
    """A JSON number with a fraction or exponent (16322.0, 1e4): kept as written, never a PIN."""

    literal: str


# The REST proxy event's members the function reads, and the shapes API Gateway gives
# them. A direct invoke, a replay or an edited `sam local invoke` event can hold anything.
_STRING = "a string"
_STRING_MAP = "a map of strings"
_LIST_MAP = "a map of lists of strings"
_EVENT_MEMBERS: Final = {
    "httpMethod": _STRING,
    "path": _STRING,
    "resource": _STRING,
    "body": _STRING,
    "headers": _STRING_MAP,
    "queryStringParameters": _STRING_MAP,
    "pathParameters": _STRING_MAP,
    "stageVariables": _STRING_MAP,
    "multiValueHeaders": _LIST_MAP,
    "multiValueQueryStringParameters": _LIST_MAP,
    "isBase64Encoded": "true or false",
    "requestContext": "a map (with a string requestId)",
}
_REQUIRED_MEMBERS: Final = ("httpMethod", "path")


def event_shape_errors(event: object) -> list[FieldError]:
    """What is wrong with the shape of a REST proxy event (empty when nothing is).

    Checked before anything reads the event, so that an odd shape is a 400 that says
    which member is wrong, not an exception somewhere inside the routing or parsing.
    """
    if not isinstance(event, dict):
        return [FieldError("event", "the event must be an API Gateway REST proxy event (a map)")]
    errors = [
        FieldError("event", f"{name} is required")
        for name in _REQUIRED_MEMBERS
        if event.get(name) is None
    ]
    for name, shape in _EVENT_MEMBERS.items():
        value = event.get(name)
        if value is not None and not _has_shape(value, shape):
            errors.append(FieldError("event", f"{name} must be {shape}"))
    return errors


def _has_shape(value: object, shape: str) -> bool:
    if shape == _STRING:
        return isinstance(value, str)
    if shape == "true or false":
        return isinstance(value, bool)
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return False
    if shape == _STRING_MAP:
        return all(isinstance(item, str) for item in value.values())
    if shape == _LIST_MAP:
        return all(
            isinstance(items, list) and all(isinstance(item, str) for item in items)
            for items in value.values()
        )
    # requestContext: its requestId names the request in answers and logs.
    return isinstance(value.get("requestId", ""), str)


def parse_request(event: APIGatewayProxyEvent) -> TelephoneStatusRequest:
    query = _query_pairs(event)
    body = _raw_body(event)
    if event.http_method.upper() == "POST":
        if query:
            # A PIN must not travel in a URL, not even next to a body (docs/api.md#request).
            names = dict.fromkeys(FIELD_ALIASES.get(name, _printable(name)) for name, _ in query)
            raise InvalidRequest([FieldError(name, QUERY_ON_POST) for name in names])
        pairs = _body_pairs(body, event.headers.get("content-type")) if body else []
        return _validate(pairs)
    if body:
        raise _invalid("body", "a GET request takes no body; use POST to send one")
    return _validate(query)


def _query_pairs(event: APIGatewayProxyEvent) -> list[tuple[str, Any]]:
    """The query's pairs; when the event carries both maps, they must say the same."""
    single = event.get("queryStringParameters")
    multi = event.get("multiValueQueryStringParameters")
    if not _is_query_map(single, list_values=False) or not _is_query_map(multi, list_values=True):
        raise _invalid("query", "the event's query string maps are malformed")
    if multi is None:
        return list((single or {}).items())
    pairs = [(name, value) for name, values in multi.items() for value in values or ()]
    if single is not None and (
        set(single) != set(multi)
        or any(not multi[name] or multi[name][-1] != value for name, value in single.items())
    ):
        # API Gateway keeps the last value in the single map; anything else is a
        # hand-made or altered event, and neither map can be trusted over the other.
        raise _invalid("query", QUERY_MAPS_DISAGREE)
    return pairs


def _is_query_map(value: object, *, list_values: bool) -> bool:
    """None, or a map (of lists, for the multi-value map): a hand-made event may hold anything."""
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    return not list_values or all(v is None or isinstance(v, list) for v in value.values())


def _raw_body(event: APIGatewayProxyEvent) -> bytes:
    body = event.body
    if not body:
        return b""
    # Cheap bound before decoding: base64 is 4/3 of the payload.
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise _too_large()
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("body", UNDECODABLE_BASE64) from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    return raw


def _body_pairs(body: bytes, content_type: str | None) -> list[tuple[str, Any]]:
    media_type, charsets = _media_type(content_type)
    for charset in charsets:
        _check_charset(body, charset)
    if media_type in JSON_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return _json_pairs(body)
    if media_type == FORM_TYPE:
        return _form_pairs(body)
    raise _invalid("Content-Type", UNSUPPORTED_MEDIA_TYPE)


def _media_type(content_type: str | None) -> tuple[str, list[str]]:
    """The media type (ASCII-lowered) and every charset parameter given (unquoted)."""
    if not content_type:
        return "", []
    media_type, *params = content_type.split(";")
    charsets = []
    for param in params:
        name, _, value = param.partition("=")
        if name.strip(" \t").lower() == "charset":
            charsets.append(_unquoted(value.strip(" \t")))
    return media_type.strip(" \t").lower(), charsets


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return _QUOTED_PAIR.sub(r"\1", value[1:-1])
    return value


def _check_charset(body: bytes, charset: str) -> None:
    """Accepts a charset in which the body reads as the same text as in UTF-8 (docs/api.md#request).

    So us-ascii or iso-8859-1 on a pure-ASCII body is fine, iso-8859-1 on "café" is not.
    """
    if not charset.isascii() or not _TOKEN.fullmatch(charset):
        raise _invalid("body", NOT_A_CHARSET)
    try:
        same = body.decode(charset) == body.decode("utf-8")
    except (LookupError, UnicodeDecodeError, ValueError):  # unknown, or not a text encoding
        same = False
    if not same:
        raise _invalid("body", NOT_UTF8)


def _json_pairs(body: bytes) -> list[tuple[str, Any]]:
    try:
        document = json.loads(
            body.decode("utf-8-sig"),
            object_pairs_hook=_JsonObject,
            parse_constant=_reject_constant,
            # A PIN is an integer literal (docs/api.md#request): 100.000000000000001 must not
            # become 100.
            parse_float=JsonNumberText,
        )
    except (ValueError, RecursionError):
        raise _invalid("body", "the body is not valid JSON") from None
    if not isinstance(document, _JsonObject):
        raise _invalid("body", "the JSON body must be an object")
    return list(document)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # pragma: no mutate (never shown: "not valid JSON")


def _form_pairs(body: bytes) -> list[tuple[str, Any]]:
    try:
        return parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise _invalid("body", "the form body is not valid") from None


def _validate(pairs: list[tuple[str, Any]]) -> TelephoneStatusRequest:
    """Every value of every field is validated; repeated ones are compared canonically."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    canonical_forms: dict[str, set[str]] = {}
    for name, value in pairs:
        field = FIELD_ALIASES.get(name)
        if field is None:
            errors.append(FieldError(_printable(name), "unknown field"))
            continue
        values.setdefault(field, value)
        try:
            canonical = CANONICAL[field](value)
        except ValueError as exc:
            error = FieldError(field, str(exc))
            if error not in errors:
                errors.append(error)
            continue
        canonical_forms.setdefault(field, set()).add(canonical)
    errors.extend(
        FieldError(field, "given more than once with different values")
        for field, distinct in canonical_forms.items()
        if len(distinct) > 1
    )
    try:
        request = TelephoneStatusRequest.model_validate(values)
    except ValidationError as exc:
        errors.extend(error for error in _field_errors(exc) if error not in errors)
        raise InvalidRequest(errors) from None
    if errors:
        raise InvalidRequest(errors)
    return request


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "body"
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            message = error["msg"]
        errors.append(FieldError(field, message))
    return errors


def _printable(name: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in name)
    return cleaned[:64] or EMPTY_NAME


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest([FieldError(field, message)])


def _too_large() -> InvalidRequest:
    return _invalid("body", f"the body must not exceed {MAX_BODY_BYTES} bytes")


# --------------------------------------------------------------------------- starts

# E.164 as a start request spells it: "+", 8 to 15 ASCII digits, the first not 0.
E164_PATTERN: Final = re.compile(r"\+[1-9][0-9]{7,14}")
CHANNELS: Final = ("sms", "call")
# The call's voice (docs/api.md#starting-a-verification) -> the upstream's language name.
LOCALES: Final = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "ru": "Russian",
    "he": "Hebrew",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
}
START_FIELDS: Final = ("phoneNumber", "channel", "locale")
PHONE_MESSAGE: Final = (
    "must be an E.164 number: +, then 8 to 15 digits, the first not 0, no spaces or punctuation"
)


@dataclass(frozen=True)
class StartRequest:
    phone_number: str
    channel: str
    locale: str = "en"


def _phone_number(value: object) -> str:
    if type(value) is not str or not E164_PATTERN.fullmatch(value):
        raise ValueError(PHONE_MESSAGE)
    return value


def _channel(value: object) -> str:
    if type(value) is not str or value not in CHANNELS:
        raise ValueError("must be sms or call")
    return value


def _locale(value: object) -> str:
    if type(value) is not str or value not in LOCALES:
        raise ValueError("must be one of " + ", ".join(LOCALES))
    return value


START_CANONICAL: Final = {"phoneNumber": _phone_number, "channel": _channel, "locale": _locale}


def parse_start_request(event: APIGatewayProxyEvent) -> StartRequest:
    """A start's fields, from a JSON or form body only (the same body rules as a lookup)."""
    query = _query_pairs(event)
    if query:
        names = dict.fromkeys(
            name if name in START_CANONICAL else _printable(name) for name, _ in query
        )
        raise InvalidRequest([FieldError(name, QUERY_ON_POST) for name in names])
    body = _raw_body(event)
    pairs = _body_pairs(body, event.headers.get("content-type")) if body else []
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    for name, value in pairs:
        check = START_CANONICAL.get(name)
        if check is None:
            errors.append(FieldError(_printable(name), "unknown field"))
            continue
        try:
            canonical = check(value)
        except ValueError as exc:
            error = FieldError(name, str(exc))
            if error not in errors:
                errors.append(error)
            continue
        if values.setdefault(name, canonical) != canonical:
            error = FieldError(name, "given more than once with different values")
            if error not in errors:
                errors.append(error)
    given = {name for name, _ in pairs}
    errors.extend(
        FieldError(name, "is required") for name in ("phoneNumber", "channel") if name not in given
    )
    if errors:
        raise InvalidRequest(errors)
    return StartRequest(
        phone_number=values["phoneNumber"],
        channel=values["channel"],
        locale=values.get("locale", "en"),
    )
