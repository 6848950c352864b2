"""What the stack's secret holds: the placeholder, or a key that looks usable."""

from __future__ import annotations

import json
import re
from typing import Final

# The key a freshly created secret holds (infra/secret.py writes it; the function answers 503
# NOT_CONFIGURED while it is there). tests/deploy keeps this equal to the function's constant.
PLACEHOLDER_API_KEY: Final = "REPLACE_WITH_PROXSTOP_API_KEY"
# What the function accepts as a key: printable ASCII without spaces.
_KEY: Final = re.compile(r"[!-~]+")


def stored_key(secret_string: str) -> str:
    """The key in a secret string: the bare key or JSON {"apiKey": "..."} ('' if none)."""
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return ""
        key = document.get("apiKey") if isinstance(document, dict) else None
        return key.strip() if isinstance(key, str) else ""
    return text


def is_placeholder(secret_string: str) -> bool:
    return stored_key(secret_string) == PLACEHOLDER_API_KEY


def usable_key(key: str) -> bool:
    """A key the function would use: printable ASCII, no spaces, not the placeholder."""
    return bool(_KEY.fullmatch(key)) and key != PLACEHOLDER_API_KEY


def secret_document(key: str) -> str:
    """The secret string put into Secrets Manager for ``key``."""
    return json.dumps({"apiKey": key})
