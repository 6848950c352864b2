"""The function's configuration: environment variables as one validated model."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

DEFAULT_API_URL = "https://api.proxstop.com"
# Printable ASCII without spaces: a URL that needs more is not one to send a key to.
_URL_CHARACTERS: Final = re.compile(r"[!-~]+")


class Settings(BaseModel):
    """SPEC §2. Read once per cold start (see service.get_dependencies), never at import."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    secret_id: Annotated[str, Field(alias="PROXSTOP_SECRET_ID", min_length=1)]
    api_url: Annotated[str, Field(alias="PROXSTOP_API_URL")] = DEFAULT_API_URL
    upstream_format: Annotated[Literal["json", "xml"], Field(alias="PROXSTOP_FORMAT")] = "json"
    attempts_table_name: Annotated[str | None, Field(alias="ATTEMPTS_TABLE_NAME")] = None
    max_code_attempts: Annotated[int, Field(alias="MAX_CODE_ATTEMPTS", ge=1, le=1000)] = 5
    max_code_checks: Annotated[int, Field(alias="MAX_CODE_CHECKS", ge=1, le=10_000)] = 20
    secret_max_age_seconds: Annotated[
        int, Field(alias="SECRET_MAX_AGE_SECONDS", ge=0, le=86_400)
    ] = 300
    cors_allow_origins: Annotated[tuple[str, ...], Field(alias="CORS_ALLOW_ORIGINS")] = ("*",)
    # Verification tokens (SPEC §9): off unless a KMS key is named.
    token_signing_key_id: Annotated[str | None, Field(alias="TOKEN_SIGNING_KEY_ID")] = None
    token_issuer: Annotated[str | None, Field(alias="TOKEN_ISSUER")] = None
    token_audience: Annotated[str | None, Field(alias="TOKEN_AUDIENCE")] = None
    token_ttl_seconds: Annotated[int, Field(alias="TOKEN_TTL_SECONDS", ge=30, le=86_400)] = 600

    @field_validator("api_url")
    @classmethod
    def _upstream_url(cls, value: str) -> str:
        """SPEC §7: https://, or http:// to a loopback host only (the key is in the body)."""
        value = value.strip(" \t\r\n").rstrip("/")
        if not _URL_CHARACTERS.fullmatch(value):
            raise ValueError("must be an https base URL (printable ASCII)")
        try:
            # The parser the client itself uses: no disagreement on what the host is.
            url = parse_url(value)
        except LocationParseError:
            raise ValueError("must be an https base URL") from None
        scheme = (url.scheme or "").lower()
        if scheme not in ("https", "http") or not url.host or url.auth or url.query is not None:
            raise ValueError("must be an https base URL without credentials or a query string")
        if url.fragment is not None:
            raise ValueError("must be an https base URL without a fragment")
        if scheme == "http" and not _is_loopback(url.host):
            raise ValueError("must be https:// (http:// only to a loopback host)")
        return url.url.rstrip("/")

    @field_validator("upstream_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "attempts_table_name",
        "token_signing_key_id",
        "token_issuer",
        "token_audience",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @model_validator(mode="after")
    def _issuer_with_key(self) -> Settings:
        if self.token_signing_key_id is not None and self.token_issuer is None:
            raise ValueError("TOKEN_ISSUER is required when TOKEN_SIGNING_KEY_ID is set")
        return self

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        names = {field.alias for field in cls.model_fields.values() if field.alias}
        return cls.model_validate({name: environ[name] for name in names if name in environ})


def _is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1, written plainly (no 127.1, no IPv4-mapped forms)."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return address == ipaddress.IPv6Address("::1")
    return address.is_loopback
