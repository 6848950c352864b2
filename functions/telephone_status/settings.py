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

from .test_numbers import parse_test_numbers

DEFAULT_API_URL = "https://api.proxstop.com"
# Printable ASCII without spaces: a URL that needs more is not one to send a key to.
_URL_CHARACTERS: Final = re.compile(r"[!-~]+")
# ISO 3166-1 alpha-2, upper case as written (libphonenumber's region codes).
_REGION: Final = re.compile(r"[A-Z]{2}")
_BOOLEANS: Final = {"true": True, "false": False}


class Settings(BaseModel):
    """docs/configuration.md. Read once per cold start (service.get_dependencies), not at import."""

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
    # Verification tokens (docs/api.md#verification-token): off unless a KMS key is named.
    token_signing_key_id: Annotated[str | None, Field(alias="TOKEN_SIGNING_KEY_ID")] = None
    token_issuer: Annotated[str | None, Field(alias="TOKEN_ISSUER")] = None
    token_audience: Annotated[str | None, Field(alias="TOKEN_AUDIENCE")] = None
    token_ttl_seconds: Annotated[int, Field(alias="TOKEN_TTL_SECONDS", ge=30, le=86_400)] = 600
    # Starting verifications (docs/api.md#starting-a-verification): off unless countries are
    # listed. The limits are the fraud guard's (docs/security.md#fraud-guard).
    start_countries: Annotated[frozenset[str], Field(alias="START_COUNTRIES")] = frozenset()
    code_length: Annotated[int, Field(alias="CODE_LENGTH", ge=4, le=5)] = 5
    verification_ttl_seconds: Annotated[
        int, Field(alias="VERIFICATION_TTL_SECONDS", ge=1, le=86_400)
    ] = 600
    max_sends_per_phone: Annotated[int, Field(alias="MAX_SENDS_PER_PHONE", ge=1, le=1000)] = 5
    min_send_interval_seconds: Annotated[
        int, Field(alias="MIN_SEND_INTERVAL_SECONDS", ge=0, le=86_400)
    ] = 30
    max_sends_per_prefix: Annotated[int, Field(alias="MAX_SENDS_PER_PREFIX", ge=1, le=10_000)] = 20
    max_sends_per_hour: Annotated[
        int, Field(alias="MAX_SENDS_PER_HOUR", ge=1, le=1_000_000_000)
    ] = 1000
    test_numbers: Annotated[dict[str, str], Field(alias="TEST_NUMBERS")] = Field(
        default_factory=dict
    )
    accept_external_references: Annotated[bool, Field(alias="ACCEPT_EXTERNAL_REFERENCES")] = True

    @field_validator("api_url")
    @classmethod
    def _upstream_url(cls, value: str) -> str:
        """https://, or http:// to a loopback host only (the key is in the body)."""
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

    @field_validator("start_countries", mode="before")
    @classmethod
    def _regions(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        regions = [region.strip(" \t") for region in value.split(",")]
        regions = [region for region in regions if region]
        for region in regions:
            # Exact spelling only: "us" or "USA" is a typo that must not silently widen or
            # narrow where codes are sent.
            if not _REGION.fullmatch(region):
                raise ValueError("must be ISO 3166 alpha-2 regions in upper case, e.g. US,CA,GB")
        return frozenset(regions)

    @field_validator("test_numbers", mode="before")
    @classmethod
    def _test_numbers(cls, value: object) -> object:
        return parse_test_numbers(value) if isinstance(value, str) else value

    @field_validator("accept_external_references", mode="before")
    @classmethod
    def _boolean(cls, value: object) -> object:
        # Exact spellings only: pydantic would also take "0", "no", "off", "f".
        if isinstance(value, str):
            if value.strip() not in _BOOLEANS:
                raise ValueError("must be true or false")
            return _BOOLEANS[value.strip()]
        return value

    @field_validator(
        "code_length",
        "verification_ttl_seconds",
        "max_sends_per_phone",
        "min_send_interval_seconds",
        "max_sends_per_prefix",
        "max_sends_per_hour",
        mode="before",
    )
    @classmethod
    def _ascii_integer(cls, value: object) -> object:
        # int() would take "1_000", "+5" or non-ASCII digits.
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,9}", value.strip()):
            raise ValueError("must be a whole number written in ASCII digits")
        return value

    @model_validator(mode="after")
    def _issuer_with_key(self) -> Settings:
        if self.token_signing_key_id is not None and self.token_issuer is None:
            raise ValueError("TOKEN_ISSUER is required when TOKEN_SIGNING_KEY_ID is set")
        return self

    @model_validator(mode="after")
    def _starts_need_the_table(self) -> Settings:
        # The fraud guard's counters and the started references live in the table: without
        # it the route could not refuse anything, and the check could not tell what it started.
        if self.start_countries and self.attempts_table_name is None:
            raise ValueError("START_COUNTRIES needs ATTEMPTS_TABLE_NAME")
        if not self.accept_external_references and self.attempts_table_name is None:
            raise ValueError("ACCEPT_EXTERNAL_REFERENCES=false needs ATTEMPTS_TABLE_NAME")
        return self

    @property
    def starts_enabled(self) -> bool:
        return bool(self.start_countries)

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
