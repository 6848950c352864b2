"""Hostile upstream bytes over a raw socket (docs/upstream.md, docs/api.md#errors).

A 5xx is 503 UPSTREAM_UNAVAILABLE whatever its body (huge, slow, endless, garbage,
a huge Content-Length alone), decided before any body is read, and a status-only
lookup is retried on it. Whatever the upstream's bytes hold in the status line,
headers or chunk sizes maps to an upstream error (docs/api.md#errors), never to a 500.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from telephone_status.deadline import Deadline
from telephone_status.errors import UpstreamError, UpstreamTimeout
from telephone_status.normalise import parse_upstream
from telephone_status.upstream import MAX_TRIES, UpstreamClient, new_pool

from tests.integration.raw_upstream import (
    STATUS_100_JSON,
    STATUS_100_XML,
    RawUpstream,
    Script,
    answer,
    drip,
    raw_upstream,
    self_signed_tls,
)
from tests.integration.support import (
    PIN,
    VENDOR_REFERENCE,
    assert_problem,
    body_of,
    lookup_event,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

KEY = "098f6bcd4621d373cade4e832627b4f6"
UPSTREAM_CODES: Final = {
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_BAD_RESPONSE",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_REJECTED",
}
BIG: Final = 200 * 1024  # over the 64 KiB cap


def fresh_reference() -> str:
    """A reference of its own per lookup, so that PIN checks never meet the attempt limit."""
    return uuid.uuid4().hex.upper()


@pytest.fixture(scope="module")
def raw() -> Iterator[RawUpstream]:
    with raw_upstream() as server:
        yield server


@pytest.fixture
def raw_env(function_env: FunctionEnv, raw: RawUpstream) -> FunctionEnv:
    function_env.monkeypatch.setenv("PROXSTOP_API_URL", raw.url)
    function_env.set_format("json")  # a cold start that reads the new URL
    return function_env


def five_xx_scripts(status: int) -> dict[str, Script]:
    head = f"HTTP/1.1 {status} Oops"
    return {
        "empty": answer(f"{head}\r\nContent-Length: 0"),
        "garbage": answer(f"{head}\r\nContent-Length: 9", b"\x00\xff<html>\x1b"),
        "huge-with-length": answer(f"{head}\r\nContent-Length: {BIG}", b"x" * BIG),
        "huge-length-only": answer(f"{head}\r\nContent-Length: 10737418240", hold=True),
        "huge-chunked": answer(
            f"{head}\r\nTransfer-Encoding: chunked",
            (f"{BIG:x}\r\n".encode() + b"y" * BIG + b"\r\n0\r\n\r\n"),
        ),
        "endless-no-length": Script([f"{head}\r\n\r\n".encode(), b"z" * 1000], hold=True),
        "slow-drip": Script([f"{head}\r\nContent-Length: 300\r\n\r\n".encode(), 3.0, b"a", 3.0]),
        "a-valid-document": answer(
            f"{head}\r\nContent-Length: {len(STATUS_100_JSON)}", STATUS_100_JSON
        ),
        "bad-length": answer(f"{head}\r\nContent-Length: \u00b2"),
    }


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_503_unavailable_whatever_its_body_and_a_lookup_is_retried(
    raw_env: FunctionEnv, raw: RawUpstream, status: int, subtests: pytest.Subtests
) -> None:
    for name, script in five_xx_scripts(status).items():
        for code in (None, PIN):
            with subtests.test(msg=f"{status} {name} pin={code is not None}"):
                raw.play(script)
                started = time.monotonic()
                result = raw_env.invoke(lookup_event(fresh_reference(), code), timeout_seconds=5.0)
                elapsed = time.monotonic() - started
                assert_problem(result, 503, "UPSTREAM_UNAVAILABLE")
                # Decided on the status: never waited for a slow or endless body (a
                # body read would take 3 s or more; 3 tries with backoff take far less).
                assert elapsed < 2.0, elapsed
                # docs/upstream.md: a status-only lookup is retried on a 5xx, a PIN check never.
                assert raw.requests == (MAX_TRIES if code is None else 1)


def test_a_5xx_then_a_good_answer_is_a_success(raw_env: FunctionEnv, raw: RawUpstream) -> None:
    raw.play(five_xx_scripts(503)["huge-length-only"])
    result = raw_env.invoke(lookup_event(VENDOR_REFERENCE), timeout_seconds=5.0)
    assert_problem(result, 503, "UPSTREAM_UNAVAILABLE")
    raw.play(answer(f"HTTP/1.1 200 OK\r\nContent-Length: {len(STATUS_100_JSON)}", STATUS_100_JSON))
    result = raw_env.invoke(lookup_event(VENDOR_REFERENCE), timeout_seconds=5.0)
    assert result["statusCode"] == 200


# --- nothing the upstream's bytes hold is a 500 ------------------------------------------------

# Content-Length values that are not plain ASCII digits (latin-1 text, as HTTP reads it).
BAD_LENGTHS: Final = [
    "\u00b2", "\u00b9\u00b2", "1\u00b3", "+29", "-1", "2_9", "0x1d", "1e1", "29.0", " ", "",
    "\u00a029", "29\u00a0", "\xd9\xa1", "29, 30", "29,", ",29", "abc", "99999999999999999999999",
    "X29", "29X", "\v29", "29\f",  # only SP and HTAB are trimmed
]  # fmt: skip
STATUS_LINES: Final = [
    "HTTP/1.1 2_00 OK", "HTTP/1.1 +200 OK", "HTTP/1.1 \u00b200 OK", "HTTP/1.1 20 OK",
    "HTTP/1.1 2000 OK", "HTTP/1.1 OK", "HTTP/1.1", "HTTX/1.1 200 OK", "200 OK", "\xff\xfe",
    "HTTP/1.1 -200 OK",
]  # fmt: skip
CHUNK_SIZES: Final = [b"\xc2\xb2", b"-5", b"+1d", b"1_d", b"zz", b"", b"1d\xa0", b"0x1d"]


def test_odd_status_lines_headers_and_chunks_are_upstream_errors(
    raw_env: FunctionEnv, raw: RawUpstream, subtests: pytest.Subtests
) -> None:
    body = STATUS_100_JSON
    scripts = {
        f"length {v!r}": answer(f"HTTP/1.1 200 OK\r\nContent-Length: {v}", body)
        for v in BAD_LENGTHS
    }
    scripts |= {
        f"status {line!r}": answer(f"{line}\r\nContent-Length: {len(body)}", body)
        for line in STATUS_LINES
    }
    scripts |= {
        f"chunk {size!r}": Script(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\n" + body]
        )
        for size in CHUNK_SIZES
    }
    for name, script in scripts.items():
        for code in (None, PIN):
            with subtests.test(msg=f"{name} pin={code is not None}"):
                raw.play(script)
                result = raw_env.invoke(lookup_event(fresh_reference(), code), timeout_seconds=3.0)
                problem = body_of(result)
                if name.startswith("length"):
                    # Framing that is not plain digits is never read as a length: a body
                    # would be cut or run on at the upstream's whim.
                    assert problem.get("code") == "UPSTREAM_BAD_RESPONSE", (name, problem)
                assert result["statusCode"] == 200 or problem["code"] in UPSTREAM_CODES, (
                    name,
                    problem,
                )


# --- property: any header value, any chunk-size line -------------------------------------------

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
LATIN1_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=6,
)


def _outcome(raw: RawUpstream, script: Script) -> str:
    """What the client and the parser make of `script`; any non-upstream error fails."""
    raw.play(script)
    client = UpstreamClient(raw.url, "json", pool=new_pool())
    try:
        reply = client.fetch(
            key=KEY, reference_id=VENDOR_REFERENCE, code=PIN, deadline=Deadline(2.0)
        )
        if reply.status >= 300:
            return f"http {reply.status}"
        parse_upstream(reply.body, "json")
    except UpstreamError as error:
        return type(error).__name__
    return "ok"


@PROPERTY
@given(value=LATIN1_TEXT)
@example(value="\u00b2")
@example(value="29")
@example(value=" 29 ")
def test_any_content_length_value_is_read_as_ascii_digits_or_refused(
    raw: RawUpstream, value: str
) -> None:
    body = STATUS_100_JSON  # 29 bytes
    result = _outcome(raw, answer(f"HTTP/1.1 200 OK\r\nContent-Length: {value}", body))
    if value.strip(" \t") == str(len(body)):
        assert result == "ok"
    elif not value.strip(" \t").isascii() or not value.strip(" \t").isdigit():
        assert result == "UpstreamBadResponse", value


@PROPERTY
@given(size=st.binary(max_size=6))
@example(size=b"\xc2\xb2")
def test_any_chunk_size_line_is_an_upstream_error_or_read(raw: RawUpstream, size: bytes) -> None:
    script = Script(
        [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + size
            + b"\r\n"
            + STATUS_100_JSON
        ]
    )
    _outcome(raw, script)


@pytest.mark.parametrize("line", STATUS_LINES, ids=repr)
def test_a_status_line_that_is_not_ascii_http_is_a_bad_response(
    raw: RawUpstream, line: str
) -> None:
    """int() would read "+200" and "2_00" as 200: the status code is three ASCII digits."""
    body = STATUS_100_JSON
    script = answer(f"{line}\r\nContent-Length: {len(body)}", body)
    assert _outcome(raw, script) == "UpstreamBadResponse"


@pytest.mark.parametrize(
    "line", ["HTTP/1.1 200 OK", "HTTP/1.0 200 OK", "HTTP/1.1 200", "HTTP/1.1 200 "]
)
def test_a_plain_status_line_is_read(raw: RawUpstream, line: str) -> None:
    body = STATUS_100_JSON
    assert _outcome(raw, answer(f"{line}\r\nContent-Length: {len(body)}", body)) == "ok"


@PROPERTY
@given(code=st.text(alphabet="0123456789+-_ \u00b2\u00b3\u00b9x", min_size=1, max_size=4))
@example(code="200")
@example(code="2_00")
def test_any_status_code_token_is_three_ascii_digits_or_refused(
    raw: RawUpstream, code: str
) -> None:
    body = STATUS_100_JSON
    result = _outcome(raw, answer(f"HTTP/1.1 {code} OK\r\nContent-Length: {len(body)}", body))
    # A space inside `code` ends the status token on the wire; the rest joins the reason.
    token = code if code.startswith(" ") else code.split(" ", 1)[0]
    if token == "200":
        assert result == "ok"
    elif len(token) == 3 and token.isascii() and token.isdigit():
        assert result != "UpstreamBadResponse" or int(token) < 100 or token.startswith("0")
    else:
        assert result == "UpstreamBadResponse", code


# --- every byte against the deadline --------------------------------------------------------

HEAD_OK: Final = "HTTP/1.1 200 OK\r\n"
HEADERS_OK: Final = f"Content-Type: application/json\r\nContent-Length: {len(STATUS_100_JSON)}\r\n"
# Each byte comes well within a per-read timeout, the whole never within the deadline.
HEAD_DRIPS: Final = {
    "status line, a byte every 0.5 s": Script(drip(HEAD_OK.encode(), 0.5)),
    "status line, a byte every 1.5 s": Script(drip(HEAD_OK.encode(), 1.5)),
    "headers, a byte every 0.5 s": Script(
        [HEAD_OK.encode(), *drip(HEADERS_OK.encode() + b"\r\n", 0.5), STATUS_100_JSON]
    ),
    "headers, a byte every 1.5 s": Script([HEAD_OK.encode(), *drip(b"X-Pad: abcdefgh\r\n", 1.5)]),
}
FUNCTION_TIMEOUT: Final = 3.0


@pytest.mark.parametrize("code", [None, PIN], ids=["lookup", "pin-check"])
@pytest.mark.parametrize("name", list(HEAD_DRIPS))
def test_an_upstream_dripping_its_status_line_or_headers_is_a_timeout_within_the_deadline(
    raw_env: FunctionEnv, raw: RawUpstream, name: str, code: str | None
) -> None:
    raw.play(HEAD_DRIPS[name])
    started = time.monotonic()
    result = raw_env.invoke(lookup_event(fresh_reference(), code), timeout_seconds=FUNCTION_TIMEOUT)
    elapsed = time.monotonic() - started
    assert_problem(result, 504, "UPSTREAM_TIMEOUT")
    assert elapsed < FUNCTION_TIMEOUT, elapsed


@pytest.fixture(scope="module")
def raw_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawUpstream, str]]:
    context, ca_file = self_signed_tls(tmp_path_factory.mktemp("raw-tls"))
    with raw_upstream(tls=context) as server:
        yield server, str(ca_file)


def _tls_client(server: RawUpstream, ca_file: str) -> UpstreamClient:
    pool = new_pool()
    pool.connection_pool_kw["ca_certs"] = ca_file  # trusts the test's own certificate
    return UpstreamClient(server.url, "json", pool=pool)


TLS_SCRIPTS: Final = {
    "status line dripped": Script(drip(HEAD_OK.encode(), 0.5)),
    "headers dripped": Script([HEAD_OK.encode(), *drip(HEADERS_OK.encode(), 0.5)]),
    "body dripped": Script([(HEAD_OK + HEADERS_OK + "\r\n").encode(), *drip(STATUS_100_JSON, 0.5)]),
    # A server hello record header, then its content a byte at a time: the handshake
    # (ssl bounds it by the connect timeout as a whole; this keeps it that way).
    "handshake dripped": Script(
        drip(b"\x16\x03\x03\x00\x40" + b"\x02" * 16, 0.5), read_request=False
    ),
}


@pytest.mark.parametrize("code", [None, PIN], ids=["lookup", "pin-check"])
@pytest.mark.parametrize("name", list(TLS_SCRIPTS))
def test_over_https_every_byte_fits_the_deadline(
    raw_tls: tuple[RawUpstream, str], name: str, code: str | None
) -> None:
    server, ca_file = raw_tls
    server.play(TLS_SCRIPTS[name])
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        _tls_client(server, ca_file).fetch(
            key=KEY, reference_id=VENDOR_REFERENCE, code=code, deadline=Deadline(1.5)
        )
    assert time.monotonic() - started < 2.0


def test_over_https_a_prompt_answer_is_read(raw_tls: tuple[RawUpstream, str]) -> None:
    """The guard for the test above: the TLS server and the client's trust do work."""
    server, ca_file = raw_tls
    server.play(Script([(HEAD_OK + HEADERS_OK + "\r\n").encode() + STATUS_100_JSON]))
    reply = _tls_client(server, ca_file).fetch(
        key=KEY, reference_id=VENDOR_REFERENCE, code=None, deadline=Deadline(3.0)
    )
    assert (reply.status, reply.body) == (200, STATUS_100_JSON)


# --- an unreadable document is the upstream's bad response, never a 500 -------------------------


@pytest.mark.parametrize("encoding", ["x-foo", "rot13", "zlib", "hex"])
def test_an_xml_answer_in_an_encoding_python_cannot_read_is_502(
    raw_env: FunctionEnv, raw: RawUpstream, encoding: str
) -> None:
    raw_env.set_format("xml")
    body = f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + STATUS_100_XML
    raw.play(answer(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}", body))
    for code in (None, PIN):
        result = raw_env.invoke(lookup_event(fresh_reference(), code), timeout_seconds=5.0)
        assert_problem(result, 502, "UPSTREAM_BAD_RESPONSE")
