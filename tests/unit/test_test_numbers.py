"""Test numbers: only fictional numbers, each with a PIN a user could type."""

from __future__ import annotations

import json
import re

import pytest
from telephone_status.test_numbers import is_fictional, parse_test_numbers


@pytest.mark.parametrize(
    "number",
    ["+12025550100", "+12025550199", "+19995550142", "+447700900000", "+447700900999"],
)
def test_fictional_ranges(number: str) -> None:
    assert is_fictional(number)


@pytest.mark.parametrize(
    "number",
    [
        "+12025550099",  # below 0100
        "+12025550200",  # above 0199
        "+12025551234",  # 555 but not 01xx
        "+11025550123",  # area code starting 1 is no NANP shape
        "+10025550123",
        "+447700901000",
        "+447700899999",
        "+4477009000000",
        "12025550123",  # no plus
        "+1 202 555 0123",
        "+1202555012٣",  # non-ASCII digit
        "+120255501234",
        "",
    ],
)
def test_other_numbers_are_not_fictional(number: str) -> None:
    assert not is_fictional(number)


def test_parse_keeps_numbers_and_pins() -> None:
    raw = json.dumps({"+12025550123": "24680", "+447700900123": "100"})
    assert parse_test_numbers(raw) == {"+12025550123": "24680", "+447700900123": "100"}


@pytest.mark.parametrize("raw", ["", "  ", "{}"])
def test_blank_or_empty_means_none(raw: str) -> None:
    assert parse_test_numbers(raw) == {}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('{"+12025551234": "24680"}', "+12025551234 is not a fictional number"),
        ('{"+12025550123": 24680}', "PIN of +12025550123"),
        ('{"+12025550123": "024680"}', "PIN of +12025550123"),
        ('{"+12025550123": "99"}', "PIN of +12025550123"),
        ('{"+12025550123": "100000"}', "PIN of +12025550123"),
        ('{"+12025550123": "0123"}', "PIN of +12025550123"),
        ('{"+12025550123": "2468\\u0660"}', "PIN of +12025550123"),
        ('{"+12025550123": "1", "+12025550123": "2"}', "more than once"),
        ('["+12025550123"]', "JSON object"),
        ("{+12025550123: 24680}", "JSON object"),
    ],
)
def test_bad_lists_are_refused_by_name(raw: str, named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        parse_test_numbers(raw)


def test_refusal_never_echoes_a_pin() -> None:
    with pytest.raises(ValueError, match="PIN of") as caught:
        parse_test_numbers('{"+12025550123": "97531x"}')
    assert "97531" not in str(caught.value)
