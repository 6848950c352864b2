"""Turns an API Gateway event into a validated TelephoneStatusRequest (SPEC §3).

Query string, JSON body and form body are flattened into (name, value) pairs
first, so that one pydantic model applies the same rules to all three.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError

from .errors import FieldError, InvalidRequest
from .models import TelephoneStatusRequest

MAX_BODY_BYTES: Final = 4096
MAX_FIELDS: Final = 16
FIELD_ALIASES: Final = {"referenceId": "referenceId", "referenceid": "referenceId", "code": "code"}
JSON_TYPES: Final = ("application/json",)
FORM_TYPE: Final = "application/x-www-form-urlencoded"


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object kept as its pairs, so that a repeated key stays visible."""


def parse_request(event: APIGatewayProxyEvent) -> TelephoneStatusRequest:
    pairs = list(_query_pairs(event))
    body = _raw_body(event)
    if body:
        if event.http_method.upper() != "POST":
            raise _invalid("body", "a GET request takes no body; use POST to send one")
        pairs.extend(_body_pairs(body, event.headers.get("content-type")))
    return _validate(pairs)


def _query_pairs(event: APIGatewayProxyEvent) -> Iterable[tuple[str, Any]]:
    multi = event.multi_value_query_string_parameters
    if multi:
        for name, values in multi.items():
            for value in values or ():
                yield name, value
        return
    yield from (event.query_string_parameters or {}).items()


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
            raise _invalid("body", "the base64 body could not be decoded") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    return raw


def _body_pairs(body: bytes, content_type: str | None) -> list[tuple[str, Any]]:
    media_type, charset = _media_type(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise _invalid("body", "the body must be UTF-8")
    if media_type in JSON_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return _json_pairs(body)
    if media_type == FORM_TYPE:
        return _form_pairs(body)
    raise _invalid(
        "Content-Type",
        "must be application/json or application/x-www-form-urlencoded",
    )


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    media_type, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def _json_pairs(body: bytes) -> list[tuple[str, Any]]:
    try:
        document = json.loads(
            body.decode("utf-8-sig"),
            object_pairs_hook=_JsonObject,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        raise _invalid("body", "the body is not valid JSON") from None
    if not isinstance(document, _JsonObject):
        raise _invalid("body", "the JSON body must be an object")
    return list(document)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


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
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    seen: dict[str, set[str]] = {}
    for name, value in pairs:
        canonical = FIELD_ALIASES.get(name)
        if canonical is None:
            errors.append(FieldError(_printable(name), "unknown field"))
            continue
        values.setdefault(canonical, value)
        seen.setdefault(canonical, set()).add(_comparable(canonical, value))
    errors.extend(
        FieldError(canonical, "given more than once with different values")
        for canonical, distinct in seen.items()
        if len(distinct) > 1
    )
    try:
        request = TelephoneStatusRequest.model_validate(values)
    except ValidationError as exc:
        raise InvalidRequest([*errors, *_field_errors(exc)]) from None
    if errors:
        raise InvalidRequest(errors)
    return request


def _comparable(canonical: str, value: Any) -> str:
    if isinstance(value, str):
        return value.upper() if canonical == "referenceId" else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


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
    return cleaned[:64] or "(empty name)"


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest([FieldError(field, message)])


def _too_large() -> InvalidRequest:
    return _invalid("body", f"the body must not exceed {MAX_BODY_BYTES} bytes")
