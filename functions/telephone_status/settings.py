"""The function's configuration: environment variables as one validated model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_API_URL = "https://api.proxstop.com"


class Settings(BaseModel):
    """SPEC §2. Read once per cold start (see service.get_runtime), never at import."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    secret_id: Annotated[str, Field(alias="PROXSTOP_SECRET_ID", min_length=1)]
    api_url: Annotated[str, Field(alias="PROXSTOP_API_URL")] = DEFAULT_API_URL
    upstream_format: Annotated[Literal["json", "xml"], Field(alias="PROXSTOP_FORMAT")] = "json"
    attempts_table_name: Annotated[str | None, Field(alias="ATTEMPTS_TABLE_NAME")] = None
    max_code_attempts: Annotated[int, Field(alias="MAX_CODE_ATTEMPTS", ge=1, le=1000)] = 5
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
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or "?" in value:
            raise ValueError("must be an http(s) base URL without a query string")
        return value

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
