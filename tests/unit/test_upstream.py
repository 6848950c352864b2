"""The pure parts of the upstream client (docs/upstream.md): deadlines and retry decisions.

Time, jitter and the connection pool are in-process fakes; nothing here opens a socket.
Real HTTP behaviour is tested in tests/integration.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

import pytest
import urllib3
from aws_lambda_powertools.utilities.typing import LambdaContext
from telephone_status import deadline as deadline_module
from telephone_status import service, upstream
from telephone_status.deadline import Deadline
from telephone_status.errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from telephone_status.normalise import StartAnswer, UpstreamFailure, parse_start
from telephone_status.upstream import (
    BACKOFF_BASE,
    MAX_BODY_BYTES,
    MAX_TRIES,
    MIN_TRY_SECONDS,
    UpstreamClient,
)
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

KEY = "098f6bcd4621d373cade4e832627b4f6"
RID = "97A677DD3E0A42B8EA58D93D05BAC89F"


@dataclass
class FakeTime:
    now: float = 500.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeRandom:
    value: float = 0.5

    def random(self) -> float:
        return self.value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(upstream, "time", fake)
    monkeypatch.setattr(deadline_module, "time", fake)
    monkeypatch.setattr(upstream, "random", FakeRandom())
    return fake


# --- Deadline ----------------------------------------------------------------------------


def test_deadline_counts_down_with_monotonic_time(clock: FakeTime) -> None:
    deadline = Deadline(5.0)
    assert deadline.remaining() == pytest.approx(5.0)
    assert not deadline.expired()
    clock.now += 2.0
    assert deadline.remaining() == pytest.approx(3.0)
    clock.now += 2.999
    assert deadline.remaining() == pytest.approx(0.001)
    assert not deadline.expired()
    clock.now += 0.001
    assert deadline.remaining() == 0.0
    assert deadline.expired()
    clock.now += 100.0
    assert deadline.remaining() == 0.0


@pytest.mark.parametrize("seconds", [0.0, -0.5, -100.0])
def test_deadline_with_no_time_is_expired_at_once(clock: FakeTime, seconds: float) -> None:
    deadline = Deadline(seconds)
    assert deadline.remaining() == 0.0
    assert deadline.expired()


@dataclass
class FakeContext:
    remaining_ms: int
    aws_request_id: str = "lambda-request-id"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("remaining_ms", "expected_seconds"),
    [
        (29_000, 28.75),  # a 250 ms reserve to build and return the answer
        (3_000, 2.75),
        (2_500, 2.25),
        (1_000, 0.9),  # short invocations keep back 10 % instead
        (100, 0.09),
        (0, 0.0),
    ],
)
def test_upstream_deadline_stops_short_of_the_invocation_deadline(
    clock: FakeTime, remaining_ms: int, expected_seconds: float
) -> None:
    context = cast(LambdaContext, FakeContext(remaining_ms))
    deadline = service.deadline_for(context)
    assert deadline.remaining() == pytest.approx(expected_seconds)
    assert deadline.remaining() < remaining_ms / 1000 or remaining_ms == 0


# --- the client against an in-process fake pool -------------------------------------------


@dataclass
class FakeResponse:
    status: int
    body: bytes = b'{"response": {"status": 100}}'
    headers: Any = field(default_factory=dict)
    connection: Any = None
    released: bool = False

    def __post_init__(self) -> None:
        self.headers = urllib3.HTTPHeaderDict(self.headers)  # as urllib3 gives them
        self._chunks: Iterator[bytes] = iter(
            [self.body[i : i + 1000] for i in range(0, len(self.body), 1000)]
        )

    def read1(self, amount: int) -> bytes:
        return next(self._chunks, b"")[:amount]

    def release_conn(self) -> None:
        self.released = True

    def close(self) -> None:
        pass


@dataclass
class FakePool:
    """Plays one scripted outcome per try: a FakeResponse, or an exception to raise."""

    script: list[FakeResponse | Exception]
    requests: list[dict[str, Any]] = field(default_factory=list)
    host_url: str = ""

    def connection_from_url(self, url: str) -> FakePool:
        self.host_url = url
        return self

    def urlopen(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        return self.request(method, url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.requests.append({"method": method, "url": url, **kwargs})
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def client_with(
    *script: FakeResponse | Exception, fmt: str = "json"
) -> tuple[UpstreamClient, FakePool]:
    pool = FakePool(list(script))
    client = UpstreamClient("https://api.example.test", fmt, pool=cast(urllib3.PoolManager, pool))
    return client, pool


def refused() -> NewConnectionError:
    return NewConnectionError(cast(Any, None), "Connection refused")


def reset() -> ProtocolError:
    return ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))


def read_timeout() -> ReadTimeoutError:
    return ReadTimeoutError(cast(Any, None), None, "Read timed out.")


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("code", [None, "16322"])
def test_the_key_travels_in_a_post_form_body_never_in_the_url(
    clock: FakeTime, fmt: str, code: str | None
) -> None:
    client, pool = client_with(FakeResponse(200), fmt=fmt)
    reply = client.fetch(key=KEY, reference_id=RID, code=code, deadline=Deadline(5.0))
    assert (reply.status, reply.tries) == (200, 1)
    [sent] = pool.requests
    assert sent["method"] == "POST"
    assert pool.host_url == f"https://api.example.test/telephonestatus.{fmt}"
    assert sent["url"] == f"/telephonestatus.{fmt}"
    assert KEY not in sent["url"]
    assert "?" not in sent["url"]
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    expected = {"key": [KEY], "referenceid": [RID]} | ({"code": [code]} if code else {})
    assert parse_qs(sent["body"].decode("ascii")) == expected
    # Redirects would re-send the key elsewhere; retries are decided by the client itself.
    assert sent["redirect"] is False
    assert sent["retries"] is False


def test_timeouts_of_a_try_come_from_the_deadline(clock: FakeTime) -> None:
    client, pool = client_with(FakeResponse(200))
    client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(1.5))
    timeout = pool.requests[0]["timeout"]
    assert timeout.connect_timeout == pytest.approx(1.5)
    assert timeout.read_timeout == pytest.approx(1.5)
    client, pool = client_with(FakeResponse(200))
    client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(20.0))
    assert pool.requests[0]["timeout"].connect_timeout <= 3.0


@pytest.mark.parametrize("code", [None, "16322"])
def test_no_time_left_is_a_timeout_without_any_request(clock: FakeTime, code: str | None) -> None:
    client, pool = client_with(FakeResponse(200))
    with pytest.raises(UpstreamTimeout):
        client.fetch(key=KEY, reference_id=RID, code=code, deadline=Deadline(MIN_TRY_SECONDS / 2))
    assert pool.requests == []


def test_exactly_the_shortest_try_left_is_still_tried(clock: FakeTime) -> None:
    clock.now = 0.0  # so that the deadline's arithmetic is exact
    client, pool = client_with(FakeResponse(200))
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(MIN_TRY_SECONDS))
    assert (reply.status, len(pool.requests)) == (200, 1)


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError(104, "reset"), BrokenPipeError(32, "broken pipe"), HTTPError("odd")],
    ids=["reset", "broken-pipe", "urllib3-error"],
)
def test_a_start_that_fails_once_under_way_is_not_repeated(
    clock: FakeTime, error: Exception
) -> None:
    """Any failure but "never connected" may come after the request left: one try only, and
    never reported as unsent."""
    client, pool = client_with(error, FakeResponse(200))
    with pytest.raises(UpstreamUnavailable):
        client.send_once("telephonesms", {"key": KEY}, Deadline(5.0))
    assert len(pool.requests) == 1


class _BrokenAtTheDeadline(FakePool):
    """The request goes out; the connection breaks only once the deadline has passed."""

    def __init__(self, clock: FakeTime) -> None:
        super().__init__([reset()])
        self.clock = clock

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.clock.now += 60.0
        return super().request(method, url, **kwargs)


def test_a_start_broken_off_after_the_deadline_was_still_sent(clock: FakeTime) -> None:
    """Late is a timeout, but the request had left: never reported as unsent (a start's quota
    is not given back for an SMS that may be on its way)."""
    pool = _BrokenAtTheDeadline(clock)
    client = UpstreamClient("https://api.test", "json", pool=cast(urllib3.PoolManager, pool))
    with pytest.raises(UpstreamTimeout):
        client.send_once("telephonesms", {"key": KEY}, Deadline(5.0))
    assert len(pool.requests) == 1


RETRY_CASES = [
    # (code sent?, first outcome, retried?)
    pytest.param(None, refused, True, id="status-only/refused"),
    pytest.param("16322", refused, True, id="pin/refused-before-sending"),
    pytest.param(None, reset, True, id="status-only/reset"),
    pytest.param("16322", reset, False, id="pin/reset-after-sending"),
    pytest.param(None, lambda: FakeResponse(503), True, id="status-only/503"),
    pytest.param("16322", lambda: FakeResponse(503), False, id="pin/503"),
    pytest.param(None, lambda: FakeResponse(500), True, id="status-only/500"),
    pytest.param("16322", lambda: FakeResponse(502), False, id="pin/502"),
]


@pytest.mark.parametrize(("code", "first", "retried"), RETRY_CASES)
def test_retries_only_where_safe(
    clock: FakeTime, code: str | None, first: Any, retried: bool
) -> None:
    first_outcome = first()
    client, pool = client_with(first_outcome, FakeResponse(200))
    deadline = Deadline(5.0)
    if retried:
        reply = client.fetch(key=KEY, reference_id=RID, code=code, deadline=deadline)
        assert (reply.status, reply.tries, len(pool.requests)) == (200, 2, 2)
        assert len(clock.sleeps) == 1  # a backoff pause between the tries
    elif isinstance(first_outcome, Exception):
        with pytest.raises(UpstreamUnavailable):
            client.fetch(key=KEY, reference_id=RID, code=code, deadline=deadline)
    else:
        reply = client.fetch(key=KEY, reference_id=RID, code=code, deadline=deadline)
        assert (reply.status, reply.tries) == (first_outcome.status, 1)
    if not retried:
        assert len(pool.requests) == 1
        assert clock.sleeps == []


@pytest.mark.parametrize("code", [None, "16322"])
def test_read_timeout_is_never_retried(clock: FakeTime, code: str | None) -> None:
    client, pool = client_with(read_timeout(), FakeResponse(200))
    with pytest.raises(UpstreamTimeout):
        client.fetch(key=KEY, reference_id=RID, code=code, deadline=Deadline(5.0))
    assert len(pool.requests) == 1


def test_status_only_lookup_gives_up_after_max_tries(clock: FakeTime) -> None:
    client, pool = client_with(*[FakeResponse(503) for _ in range(MAX_TRIES + 1)])
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(10.0))
    assert (reply.status, reply.tries) == (503, MAX_TRIES)
    assert len(pool.requests) == MAX_TRIES


def test_connection_errors_until_max_tries_are_unavailable(clock: FakeTime) -> None:
    client, pool = client_with(*[refused() for _ in range(MAX_TRIES + 1)])
    with pytest.raises(UpstreamUnavailable):
        client.fetch(key=KEY, reference_id=RID, code="16322", deadline=Deadline(10.0))
    assert len(pool.requests) == MAX_TRIES


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_backoff_doubles_between_tries_with_jitter(
    clock: FakeTime, monkeypatch: pytest.MonkeyPatch, jitter: float
) -> None:
    """Pause n is BACKOFF_BASE x 2^(n-1), scaled by a jitter factor in [0.5, 1.5)."""
    monkeypatch.setattr(upstream, "random", FakeRandom(jitter))
    client, _ = client_with(refused(), refused(), FakeResponse(200))
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(10.0))
    factor = 0.5 + jitter
    assert clock.sleeps == pytest.approx([BACKOFF_BASE * factor, 2 * BACKOFF_BASE * factor])
    # The reply's time is the whole call's, pauses included, in milliseconds.
    assert reply.elapsed_ms == pytest.approx(1000 * sum(clock.sleeps))


def test_a_retry_needs_its_pause_and_two_short_tries_of_time_left(clock: FakeTime) -> None:
    # FakeRandom's 0.5: the first pause is BACKOFF_BASE exactly; the fake requests take no time.
    enough = BACKOFF_BASE + 2 * MIN_TRY_SECONDS
    client, pool = client_with(FakeResponse(503), FakeResponse(200))
    assert client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(enough)).tries == 2
    client, pool = client_with(FakeResponse(503), FakeResponse(200))
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(enough - 0.001))
    assert (reply.status, reply.tries, len(pool.requests)) == (503, 1, 1)


def test_no_retry_when_the_deadline_cannot_fit_another_try(clock: FakeTime) -> None:
    client, pool = client_with(FakeResponse(503), FakeResponse(200))
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(0.15))
    assert (reply.status, len(pool.requests)) == (503, 1)
    assert clock.sleeps == []


def test_connect_timeout_at_the_deadline_is_a_timeout(clock: FakeTime) -> None:
    deadline = Deadline(1.0)

    class SlowConnect(FakePool):
        def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
            self.requests.append({"method": method, "url": url, **kwargs})
            clock.now += 1.0
            raise ConnectTimeoutError("connect timed out")

    pool = SlowConnect([])
    client = UpstreamClient(
        "https://api.example.test", "json", pool=cast(urllib3.PoolManager, pool)
    )
    with pytest.raises(UpstreamTimeout):
        client.fetch(key=KEY, reference_id=RID, code="16322", deadline=deadline)
    assert len(pool.requests) == 1


# --- the body size cap -------------------------------------------------------------------


def test_body_up_to_the_cap_is_read_whole(clock: FakeTime) -> None:
    body = b" " * (MAX_BODY_BYTES - 2) + b"{}"
    client, _ = client_with(FakeResponse(200, body=body))
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(5.0))
    assert reply.body == body


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(FakeResponse(200, body=b" " * (MAX_BODY_BYTES + 1)), id="streamed"),
        pytest.param(
            FakeResponse(200, body=b"{}", headers={"Content-Length": str(MAX_BODY_BYTES + 1)}),
            id="declared",
        ),
    ],
)
def test_body_over_the_cap_is_a_bad_response(clock: FakeTime, response: FakeResponse) -> None:
    client, _ = client_with(response)
    with pytest.raises(UpstreamBadResponse):
        client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(5.0))
    assert response.released


# --- a 5xx is decided on its status --------------------------------------------------------


@dataclass
class UnreadableResponse(FakeResponse):
    """A response whose body must not be touched (a read fails the test)."""

    closed: bool = False

    def read1(self, amount: int) -> bytes:
        raise AssertionError("the body of this response must not be read")

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599, 429, 302, 101])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Length": "10737418240"},
        {"Content-Length": "\u00b2"},
        {"Transfer-Encoding": "chunked"},
    ],
    ids=["no-length", "huge-length", "bad-length", "chunked"],
)
def test_a_status_that_decides_alone_is_returned_without_reading_the_body(
    clock: FakeTime, status: int, headers: dict[str, str]
) -> None:
    responses = [UnreadableResponse(status, body=b"x" * 10, headers=headers) for _ in range(3)]
    client, pool = client_with(*responses)
    reply = client.fetch(key=KEY, reference_id=RID, code="16322", deadline=Deadline(5.0))
    assert (reply.status, reply.body, len(pool.requests)) == (status, b"", 1)
    assert responses[0].closed  # the connection is not reused with an unread body
    assert responses[0].released


@pytest.mark.parametrize("status", [500, 503, 599])
def test_a_status_only_lookup_is_retried_on_any_5xx_body(clock: FakeTime, status: int) -> None:
    client, pool = client_with(
        *[UnreadableResponse(status, headers={"Content-Length": "99999999"}) for _ in range(2)],
        FakeResponse(200),
    )
    reply = client.fetch(key=KEY, reference_id=RID, code=None, deadline=Deadline(5.0))
    assert (reply.status, reply.tries, len(pool.requests)) == (200, 3, 3)


@pytest.mark.parametrize(
    "value", ["\u00b2", "1\u00b3", "+29", "-1", "2_9", " ", "", "29, 30", "0x1d", "\xa029"]
)
def test_a_content_length_that_is_not_ascii_digits_is_a_bad_response(
    clock: FakeTime, value: str
) -> None:
    client, _ = client_with(FakeResponse(200, headers={"Content-Length": value}))
    with pytest.raises(UpstreamBadResponse):
        client.fetch(key=KEY, reference_id=RID, code="16322", deadline=Deadline(5.0))


@pytest.mark.parametrize("value", ["29", " 29 ", "29, 29", "29,29"])
def test_a_content_length_in_ascii_digits_is_read(clock: FakeTime, value: str) -> None:
    client, _ = client_with(FakeResponse(200, headers={"Content-Length": value}))
    reply = client.fetch(key=KEY, reference_id=RID, code="16322", deadline=Deadline(5.0))
    assert reply.status == 200


# --- post_form: the one way to call any endpoint of the upstream --------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_form_sends_the_form_to_the_endpoint_of_the_configured_format(
    clock: FakeTime, fmt: str
) -> None:
    client, pool = client_with(FakeResponse(200), fmt=fmt)
    reply = client.post_form(
        "telephonesms", {"key": KEY, "phone": "5550100"}, Deadline(5.0), retry_after_send=False
    )
    (sent,) = pool.requests
    assert (sent["method"], sent["url"]) == ("POST", f"/telephonesms.{fmt}")
    assert parse_qs(sent["body"].decode()) == {"key": [KEY], "phone": ["5550100"]}
    assert reply.status == 200


@pytest.mark.parametrize(
    ("first", "retried"),
    [
        pytest.param(refused, True, id="refused-before-sending"),
        pytest.param(reset, False, id="reset-after-sending"),
        pytest.param(lambda: FakeResponse(503), False, id="5xx"),
    ],
)
def test_post_form_without_retry_after_send_retries_only_what_never_left(
    clock: FakeTime, first: Any, retried: bool
) -> None:
    """A start call (an SMS, a phone call) must not be sent twice."""
    client, pool = client_with(first(), FakeResponse(200))
    try:
        reply = client.post_form(
            "telephonecall", {"key": KEY}, Deadline(5.0), retry_after_send=False
        )
    except UpstreamUnavailable:
        reply = None
    assert len(pool.requests) == (2 if retried else 1)
    if retried:
        assert reply is not None
        assert reply.status == 200


@pytest.mark.parametrize(
    ("base_url", "path"),
    [
        ("https://api.example.test/v2/", "/v2"),
        ("https://api.example.test/v2", "/v2"),
        ("https://api.example.test/relay/ProxStop-X", "/relay/ProxStop-X"),
        ("https://api.example.test", ""),
    ],
)
def test_post_form_under_a_base_path_keeps_it(clock: FakeTime, base_url: str, path: str) -> None:
    pool = FakePool([FakeResponse(200)])
    client = UpstreamClient(base_url, "json", pool=cast(urllib3.PoolManager, pool))
    client.post_form("telephonestatus", {"key": KEY}, Deadline(5.0), retry_after_send=True)
    assert pool.requests[0]["url"] == f"{path}/telephonestatus.json"


def _start_reply(status: int, body: bytes) -> StartAnswer | UpstreamFailure:
    return upstream.read_reply(
        upstream.UpstreamReply(status, body, elapsed_ms=1.0, tries=1),
        lambda document: parse_start(document, "json"),
    )


FAILED_DOCUMENT = b'{"failed":{"error_code":"INVALID_TELEPHONE"}}'
REF_DOCUMENT = b'{"response":{"ref":"97A677DD3E0A42B8EA58D93D05BAC89F"}}'


@pytest.mark.parametrize("status", [400, 403, 404, 422, 428, 430, 499])
def test_a_refusal_keeps_the_upstreams_own_failure_or_names_its_status(status: int) -> None:
    assert _start_reply(status, FAILED_DOCUMENT) == UpstreamFailure("INVALID_TELEPHONE")
    # No failure document (none, junk, or even an answer): the refusal is named by its status.
    for body in (b"", b"<html>nope</html>", REF_DOCUMENT):
        assert _start_reply(status, body) == UpstreamFailure(f"HTTP_{status}")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        *[(status, UpstreamUnavailable) for status in (500, 503, 429)],
        *[(status, UpstreamBadResponse) for status in (100, 101, 199, 300, 302, 304, 399)],
    ],
)
def test_a_status_that_is_no_answer_is_an_error_whatever_the_body(
    status: int, error: type[Exception]
) -> None:
    for body in (b"", FAILED_DOCUMENT, REF_DOCUMENT):
        with pytest.raises(error):
            _start_reply(status, body)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_an_answer_is_its_parsed_document(status: int) -> None:
    assert _start_reply(status, REF_DOCUMENT) == StartAnswer("97A677DD3E0A42B8EA58D93D05BAC89F")
    assert _start_reply(status, FAILED_DOCUMENT) == UpstreamFailure("INVALID_TELEPHONE")
