"""Phone numbers for a start: E.164 spelling, validity, kind and region (libphonenumber)."""

from __future__ import annotations

import pytest
from telephone_status.errors import InvalidRequest
from telephone_status.phone import classify, parts


@pytest.mark.parametrize(
    ("number", "channel", "region", "national"),
    [
        ("+12025550142", "sms", "US", "2025550142"),
        ("+12025550142", "call", "US", "2025550142"),
        ("+33612345678", "sms", "FR", "612345678"),
        ("+442079460123", "call", "GB", "2079460123"),  # a fixed line can be called
        ("+447400123456", "sms", "GB", "7400123456"),
    ],
)
def test_numbers_that_may_receive_a_verification(
    number: str, channel: str, region: str, national: str
) -> None:
    phone = classify(number, channel)  # type: ignore[arg-type]
    assert (phone.e164, phone.region, phone.national_number) == (number, region, national)
    assert phone.country_code == int(number[1 : len(number) - len(national)])


@pytest.mark.parametrize(
    ("number", "channel"),
    [
        ("+19005550199", "sms"),  # premium rate
        ("+19005550199", "call"),
        ("+18005550100", "sms"),  # toll free
        ("+18885550100", "call"),  # toll free
        ("+448431234567", "call"),  # UK shared cost
        ("+447012345678", "call"),  # UK personal number
        ("+442079460123", "sms"),  # fixed line by SMS
        ("+1202555014", "sms"),  # too short for the US
        ("+11234567890", "sms"),  # area code starting with 1
        ("+447700900123", "sms"),  # the UK drama range: not valid
        ("+999123456789", "sms"),  # no such country code
    ],
)
def test_numbers_refused_on_phone_number(number: str, channel: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        classify(number, channel)  # type: ignore[arg-type]
    assert [error.field for error in refused.value.errors] == ["phoneNumber"]


@pytest.mark.parametrize("spelling", ["12025550142", "+1 2025550142", "+0123456789", "+1202555"])
def test_spelling_is_checked_again(spelling: str) -> None:
    with pytest.raises(InvalidRequest):
        classify(spelling, "sms")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+12025550142", "+1******0142"),
        ("+447400123456", "+44******3456"),
        ("+33612345678", "+33*****5678"),
    ],
)
def test_masked_keeps_country_code_and_last_four(number: str, masked: str) -> None:
    assert classify(number, "sms").masked == masked


def test_prefix_drops_the_last_four_digits() -> None:
    assert classify("+12025550142", "sms").prefix == "+1202555"


def test_fictional_uk_number_is_placed_by_its_country_code() -> None:
    phone = parts("+447700900123")
    assert (phone.region, phone.country_code, phone.national_number) == ("GB", 44, "7700900123")
    assert parts("+12025550123").region == "US"
