"""Phone numbers for starting a verification: E.164 spelling, validity, region and kind.

The number rules are libphonenumber's (phonenumberslite, its metadata without the geocoder
and carrier data). It is imported here only, and this module only on the start route, so
the PIN-check path's cold start does not load its metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import FieldError, InvalidRequest

Channel = Literal["sms", "call"]

# E.164 as the request spells it: "+", 8 to 15 ASCII digits, the first not 0.
E164: Final = re.compile(r"\+[1-9][0-9]{7,14}")
E164_MESSAGE: Final = (
    "must be an E.164 number: +, then 8 to 15 digits, the first not 0, without spaces"
)
INVALID_MESSAGE: Final = "is not a valid phone number for its region"
KIND_MESSAGE: Final = "cannot receive a verification (premium rate, toll free, shared cost, …)"
FIXED_LINE_SMS_MESSAGE: Final = "is a fixed-line number: it cannot receive an SMS; use call"

# Kinds that cannot receive a verification or cost the sender extra.
REFUSED_KINDS: Final = frozenset(
    {
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.UAN,
        PhoneNumberType.PAGER,
        PhoneNumberType.VOICEMAIL,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.UNKNOWN,
    }
)


@dataclass(frozen=True)
class PhoneNumber:
    """A number that may be sent to: E.164, its parts for the upstream, its region."""

    e164: str
    country_code: int
    national_number: str
    region: str | None

    @property
    def prefix(self) -> str:
        """The number without its last 4 digits: the range a pumping script walks through."""
        return self.e164[:-4]

    @property
    def masked(self) -> str:
        """Country code and last 4 digits, e.g. +1******0123."""
        hidden = len(self.e164) - 1 - len(str(self.country_code)) - 4
        return f"+{self.country_code}{'*' * max(hidden, 0)}{self.e164[-4:]}"


def parts(e164: str) -> PhoneNumber:
    """Splits a well-spelled number without judging it (test numbers are not 'valid')."""
    number = _parse(e164)
    return PhoneNumber(
        e164=e164,
        country_code=number.country_code or 0,
        national_number=phonenumbers.national_significant_number(number),
        region=_region(number),
    )


def classify(e164: str, channel: Channel) -> PhoneNumber:
    """A number that may receive a verification on `channel`, or a 400 on `phoneNumber`."""
    number = _parse(e164)
    if not phonenumbers.is_valid_number(number):
        raise _invalid(INVALID_MESSAGE)
    kind = phonenumbers.number_type(number)
    if kind in REFUSED_KINDS:
        raise _invalid(KIND_MESSAGE)
    if kind == PhoneNumberType.FIXED_LINE and channel == "sms":
        raise _invalid(FIXED_LINE_SMS_MESSAGE)
    return PhoneNumber(
        e164=e164,
        country_code=number.country_code or 0,
        national_number=phonenumbers.national_significant_number(number),
        region=_region(number),
    )


def _parse(e164: str) -> phonenumbers.PhoneNumber:
    if not E164.fullmatch(e164):
        raise _invalid(E164_MESSAGE)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise _invalid(INVALID_MESSAGE) from None
    # libphonenumber is lenient (it keeps a leading zero as "italian leading zero", drops
    # punctuation); the number must read back as exactly what was sent.
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != e164:
        raise _invalid(INVALID_MESSAGE)
    return number


def _region(number: phonenumbers.PhoneNumber) -> str | None:
    region = phonenumbers.region_code_for_number(number)
    if region is None or region == phonenumbers.UNKNOWN_REGION:
        # A number libphonenumber cannot place (a fictional UK one): the country code's
        # main region, so that START_COUNTRIES still applies to it.
        main = phonenumbers.region_code_for_country_code(number.country_code or 0)
        return None if main == phonenumbers.UNKNOWN_REGION else main
    return str(region)


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest([FieldError("phoneNumber", message)])
