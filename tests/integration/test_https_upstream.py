"""The upstream over https, as in production: a loopback TLS server with a local CA's certificate.

The client trusts the CA the way the deployed function trusts the public ones: through the
default verify paths (SSL_CERT_FILE), with the module's own pool classes, so that the strict
status-line reader, the body cap and the deadline are the https connection's, not http's.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme
from telephone_status.deadline import Deadline
from telephone_status.errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from telephone_status.upstream import MAX_BODY_BYTES, UpstreamClient, UpstreamReply, new_pool

from tests.integration.raw_upstream import (
    STATUS_100_JSON,
    RawUpstream,
    Script,
    answer,
    raw_upstream,
)
from tests.integration.support import PIN, assert_problem, lookup_event

if TYPE_CHECKING:
    from tests.integration.conftest import FunctionEnv

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

KEY = "098f6bcd4621d373cade4e832627b4f6"
REFERENCE = "97A677DD3E0A42B8EA58D93D05BAC89F"
# The status-line reader's limit: the line, its CRLF included, in one bounded readline.
STATUS_LINE_LIMIT = 8192 + 1


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls(ca: trustme.CA) -> Iterator[RawUpstream]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with raw_upstream(tls=context) as server:
        yield server


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local CA is the one the default verify paths trust (as the public CAs are)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


def fetch(server: RawUpstream, script: Script, seconds: float = 3.0) -> UpstreamReply:
    server.play(script)
    client = UpstreamClient(server.url, "json", pool=new_pool())
    return client.fetch(key=KEY, reference_id=REFERENCE, code=PIN, deadline=Deadline(seconds))


def ok(body: bytes, length: bool = True) -> Script:
    head = "HTTP/1.1 200 OK" + (f"\r\nContent-Length: {len(body)}" if length else "")
    return answer(head, body)


def test_an_untrusted_certificate_is_refused(
    tls: RawUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
    with pytest.raises(UpstreamUnavailable, match="TLS handshake"):
        fetch(tls, ok(STATUS_100_JSON))


@pytest.mark.usefixtures("trusted")
def test_the_status_line_is_read_strictly_and_bounded_over_https(tls: RawUpstream) -> None:
    reply = fetch(tls, ok(STATUS_100_JSON))
    assert (reply.status, reply.body, reply.tries) == (200, STATUS_100_JSON, 1)
    # int() would read "2_00" as 200: only the module's reader refuses it.
    with pytest.raises(UpstreamBadResponse):
        fetch(tls, answer(f"HTTP/1.1 2_00 OK\r\nContent-Length: {len(STATUS_100_JSON)}"))
    longest = "HTTP/1.1 200 " + "r" * (STATUS_LINE_LIMIT - len("HTTP/1.1 200 \r\n"))
    assert len(longest) + 2 == STATUS_LINE_LIMIT
    assert fetch(tls, answer(f"{longest}\r\nContent-Length: 0")).status == 200
    with pytest.raises(UpstreamBadResponse):
        fetch(tls, answer(f"{longest}r\r\nContent-Length: 0"))


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-close"])
def test_the_body_cap_holds_at_its_boundary_over_https(tls: RawUpstream, declared: bool) -> None:
    largest = b" " * MAX_BODY_BYTES
    assert fetch(tls, ok(largest, declared)).body == largest
    with pytest.raises(UpstreamBadResponse):
        fetch(tls, ok(largest + b" ", declared))


@pytest.mark.usefixtures("trusted")
def test_a_stalled_body_ends_at_the_deadline_not_a_read_timeout_later(tls: RawUpstream) -> None:
    """The headers come late, then the body stops: each read may wait only what is left."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        fetch(tls, Script([0.8, head], hold=True), seconds=1.5)
    # Without the per-read reset the read would time out 1.5 s after the headers (2.3 s).
    assert time.monotonic() - started < 2.0


@pytest.mark.usefixtures("trusted")
def test_a_drip_fed_body_ends_at_the_deadline(tls: RawUpstream) -> None:
    steps: list[bytes | float] = [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"]
    steps += [0.1, b" "] * 40
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        fetch(tls, Script(steps), seconds=1.0)
    assert time.monotonic() - started < 1.5


@pytest.mark.usefixtures("trusted")
def test_the_function_over_https_answers_and_maps_a_400_to_rejected(
    function_env: FunctionEnv, tls: RawUpstream
) -> None:
    function_env.monkeypatch.setenv("PROXSTOP_API_URL", tls.url)
    function_env.set_format("json")  # a cold start that reads the URL
    tls.play(ok(STATUS_100_JSON))
    assert function_env.invoke(lookup_event(REFERENCE))["statusCode"] == 200
    # A 400 is a refusal, read but never retried, whatever its body.
    tls.play(answer("HTTP/1.1 400 Bad Request\r\nContent-Length: 2", b"{}"))
    assert_problem(function_env.invoke(lookup_event(REFERENCE)), 502, "UPSTREAM_REJECTED")
    assert tls.requests == 1
