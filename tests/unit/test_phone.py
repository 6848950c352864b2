"""Phone numbers for a start: E.164 spelling, validity, kind and region (libphonenumber)."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType
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


# Every kind, in many regions, by libphonenumber's own example numbers: the rule is the kind,
# not the handful of numbers above.
_REGIONS = ("US", "CA", "GB", "FR", "DE", "IT", "ES", "NL", "CH", "AU", "JP", "IN", "BR", "001")
_REFUSED = (
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.UAN,
    PhoneNumberType.PAGER,
    PhoneNumberType.VOICEMAIL,
    PhoneNumberType.PERSONAL_NUMBER,
)
_SENDABLE = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _examples(kinds: tuple[int, ...]) -> list[tuple[str, int]]:
    """E.164 example numbers of `kinds` whose own type is that kind (8+ digits)."""
    found = []
    for region in _REGIONS:
        for kind in kinds:
            number = (
                phonenumbers.example_number_for_non_geo_entity(800)
                if region == "001" and kind == PhoneNumberType.TOLL_FREE
                else phonenumbers.example_number_for_type(region, kind)
            )
            if number is None or phonenumbers.number_type(number) != kind:
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            if len(e164) >= 9:
                found.append((e164, kind))
    return found


_REFUSED_EXAMPLES = _examples(_REFUSED)
_FIXED_EXAMPLES = _examples((PhoneNumberType.FIXED_LINE,))
_SENDABLE_EXAMPLES = _examples(_SENDABLE)


def test_the_examples_cover_every_kind() -> None:
    # Guard: the tables below walk what they claim to walk.
    assert {kind for _, kind in _REFUSED_EXAMPLES} == set(_REFUSED)
    assert len(_FIXED_EXAMPLES) >= 8
    assert {kind for _, kind in _SENDABLE_EXAMPLES} == set(_SENDABLE)


@pytest.mark.parametrize("channel", ["sms", "call"])
@pytest.mark.parametrize(("number", "kind"), _REFUSED_EXAMPLES)
def test_every_costly_kind_is_refused_on_both_channels(
    number: str, kind: int, channel: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        classify(number, channel)  # type: ignore[arg-type]
    assert [error.field for error in refused.value.errors] == ["phoneNumber"]


@pytest.mark.parametrize(("number", "kind"), _FIXED_EXAMPLES)
def test_a_fixed_line_is_refused_by_sms_and_called(number: str, kind: int) -> None:
    with pytest.raises(InvalidRequest):
        classify(number, "sms")
    assert classify(number, "call").e164 == number


@pytest.mark.parametrize("channel", ["sms", "call"])
@pytest.mark.parametrize(("number", "kind"), _SENDABLE_EXAMPLES)
def test_mobile_and_fixed_line_or_mobile_take_both_channels(
    number: str, kind: int, channel: str
) -> None:
    phone = classify(number, channel)  # type: ignore[arg-type]
    assert phone.region == phonenumbers.region_code_for_number(phonenumbers.parse(number))
    assert phone.masked.endswith(number[-4:])


@pytest.mark.parametrize(
    "spelling",
    [
        "+\u0661\u0662\u0660\u0662\u0665\u0665\u0665\u0660\u0661\u0664\u0662",  # Arabic-Indic
        "+\uff11\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff12",  # fullwidth digits
        "\uff0b12025550142",  # fullwidth plus
        " +12025550142",
        "+12025550142\n",
        "+1(202)5550142",
        "+1.202.555.0142",
        "0012025550142",
        "+1202555014212345",  # 16 digits
    ],
)
def test_only_the_exact_e164_spelling_is_parsed(spelling: str) -> None:
    with pytest.raises(InvalidRequest):
        classify(spelling, "call")
    with pytest.raises(InvalidRequest):
        parts(spelling)
