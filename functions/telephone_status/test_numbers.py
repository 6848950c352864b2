"""Test numbers: fictional phone numbers with fixed PINs (app-store review, automated tests).

Pure Python on purpose: the infrastructure code imports it to refuse a bad list at synth
time, and the function imports it on the start route without loading libphonenumber.
Only numbers that can never reach a real subscriber are allowed, so a listed number can
never let someone verify a phone they do not hold (docs/api.md#starting-a-verification):

- NANP: +1 NXX 555 0100-0199 (N is 2-9), the range reserved for fiction;
- UK: +44 7700 900000-900999, Ofcom's drama range.
"""

from __future__ import annotations

import json
import re
from typing import Final

_NANP_FICTIONAL: Final = re.compile(r"\+1[2-9][0-9]{2}55501[0-9]{2}")
_UK_FICTIONAL: Final = re.compile(r"\+447700900[0-9]{3}")
# The PIN rule of a typed code: 100-99999, no leading zero, ASCII digits.
_PIN: Final = re.compile(r"[1-9][0-9]{2,4}")


def is_fictional(e164: str) -> bool:
    """True for an E.164 number in a range reserved for fiction (exact spelling only)."""
    return bool(_NANP_FICTIONAL.fullmatch(e164) or _UK_FICTIONAL.fullmatch(e164))


def parse_test_numbers(raw: str) -> dict[str, str]:
    """The TEST_NUMBERS setting: a JSON object of E.164 number -> PIN string.

    Blank means none. Raises ValueError naming the problem (never echoing a PIN).
    """
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw, object_pairs_hook=_pairs_once)
    except _RepeatedNumber as exc:
        raise ValueError(f"number {exc.number} is listed more than once") from None
    except ValueError:
        raise ValueError("must be a JSON object of phone numbers and PINs") from None
    if not isinstance(document, dict):
        raise ValueError("must be a JSON object of phone numbers and PINs")
    numbers: dict[str, str] = {}
    for number, pin in document.items():
        shown = number if number.isascii() and number.isprintable() else "(unprintable)"
        if not is_fictional(number):
            raise ValueError(
                f"{shown[:20]} is not a fictional number"
                " (+1 NXX 555 0100-0199 or +44 7700 900000-900999)"
            )
        if not isinstance(pin, str) or not _PIN.fullmatch(pin):
            raise ValueError(
                f"the PIN of {number} must be a string of 3 to 5 digits (100-99999)"
                " without a leading zero"
            )
        numbers[number] = pin
    return numbers


class _RepeatedNumber(ValueError):
    def __init__(self, number: str) -> None:
        super().__init__(number)
        self.number = number


def _pairs_once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document: dict[str, object] = {}
    for name, value in pairs:
        if name in document:
            shown = name if name.isascii() and name.isprintable() else "(unprintable)"
            raise _RepeatedNumber(shown[:20])
        document[name] = value
    return document
