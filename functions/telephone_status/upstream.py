"""The ProxStop client: one pooled urllib3 connection pool, deadlines, safe retries.

Retry rules (docs/upstream.md): a status-only lookup may be retried after connection
errors and 5xx; a lookup carrying a PIN only when the connection failed before
the request was sent, since ProxStop may already have counted the attempt.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeVar
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from .bounded_io import CALL_DEADLINE, DeadlineBoundResponse
from .deadline import Deadline
from .errors import UpstreamBadResponse, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .normalise import UpstreamFailure

MAX_BODY_BYTES: Final = 64 * 1024
# RFC 9110: Content-Length is 1*DIGIT (ASCII); str.isdigit() would also pass "²".
_CONTENT_LENGTH: Final = re.compile(r"[0-9]{1,18}")
MAX_TRIES: Final = 3
CONNECT_TIMEOUT_CAP: Final = 3.0
BACKOFF_BASE: Final = 0.05
# Below this much time left another try cannot finish; answer instead.
MIN_TRY_SECONDS: Final = 0.1
REQUEST_HEADERS: Final = {
    "Content-Type": "application/x-www-form-urlencoded",
    "User-Agent": "telephone-status/1.0 (+urllib3)",
}

# An HTTP/1.x status line: the code is exactly three ASCII digits (RFC 9112, section 4).
_STATUS_LINE: Final = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: ([^\r\n]*))?\r?\n")
_MAX_STATUS_LINE: Final = 8192


class _StrictStatusResponse(DeadlineBoundResponse):
    """http.client reads the status code with int(), which also takes "+200" and "2_00".

    Hand-written because neither http.client nor urllib3 has a strict mode; everything
    after the status line is still parsed by http.client. Every byte (status line,
    headers, body) is read against the call's deadline (bounded_io).
    """

    def _read_status(self) -> tuple[str, int, str]:
        line = self.fp.readline(_MAX_STATUS_LINE + 1)
        if not line:
            # As http.client says it: a closed keep-alive connection, safe to retry.
            raise http.client.RemoteDisconnected(
                "Remote end closed connection without response"  # pragma: no mutate
            )
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise http.client.BadStatusLine("malformed status line")  # pragma: no mutate
        version, status, reason = match.groups()
        return version.decode("ascii"), int(status), (reason or b"").decode("latin-1")


class _StrictHTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _StrictStatusResponse


class _StrictHTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _StrictStatusResponse


class _StrictHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _StrictHTTPConnection


class _StrictHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _StrictHTTPSConnection


def new_pool() -> urllib3.PoolManager:
    """A pool manager whose connections read the status line by ASCII rules.

    Retries, redirects (a redirect would re-send the key) and timeouts are not the pool's:
    the one request this module makes (`_exchange`) sets each of them itself.
    """
    # Two kept-alive connections: the local server answers requests on threads.
    pool = urllib3.PoolManager(maxsize=2)
    pool.pool_classes_by_scheme = {"http": _StrictHTTPPool, "https": _StrictHTTPSPool}
    return pool


# One pool per execution environment, reused across invocations (keep-alive).
POOL: Final = new_pool()


class StatusMeaning(Enum):
    """What an upstream HTTP status means: the one rule for reading the body and answering."""

    ANSWER = "answer"  # 2xx: the document is the answer
    REFUSAL = "refusal"  # 4xx but 429: a refusal (bad key, blocked account), document or not
    UNAVAILABLE = "unavailable"  # 5xx and 429: the upstream cannot answer now
    NOT_AN_ANSWER = "not an answer"  # 1xx, 3xx: nothing the upstream should send

    @property
    def has_document(self) -> bool:
        """Only an answer or a refusal carries a document the service looks at."""
        return self in (StatusMeaning.ANSWER, StatusMeaning.REFUSAL)


def status_meaning(status: int) -> StatusMeaning:
    if status >= 500 or status == 429:
        return StatusMeaning.UNAVAILABLE
    if status < 200 or 300 <= status < 400:
        return StatusMeaning.NOT_AN_ANSWER
    if status >= 400:
        return StatusMeaning.REFUSAL
    return StatusMeaning.ANSWER


@dataclass(frozen=True)
class UpstreamReply:
    status: int
    body: bytes
    elapsed_ms: float
    tries: int


Parsed = TypeVar("Parsed")


def read_reply(
    reply: UpstreamReply, parse: Callable[[bytes], Parsed | UpstreamFailure]
) -> Parsed | UpstreamFailure:
    """What a reply means, by the one status rule; `parse` reads the document of an answer.

    5xx and 429: UpstreamUnavailable; 1xx and 3xx: UpstreamBadResponse; a 4xx is a refusal,
    with the upstream's own failure document when it sent one (docs/upstream.md).
    """
    meaning = status_meaning(reply.status)
    if meaning is StatusMeaning.UNAVAILABLE:
        raise UpstreamUnavailable(reason=f"upstream HTTP {reply.status}")  # pragma: no mutate
    if meaning is StatusMeaning.NOT_AN_ANSWER:
        raise UpstreamBadResponse(reason=f"upstream HTTP {reply.status}")  # pragma: no mutate
    if meaning is StatusMeaning.REFUSAL:
        with contextlib.suppress(UpstreamError):
            outcome = parse(reply.body)
            if isinstance(outcome, UpstreamFailure):
                return outcome
        return UpstreamFailure(error_code=f"HTTP_{reply.status}")
    return parse(reply.body)


class NotSent(Exception):
    """The request never left this process: `error` is the answer, nothing was sent."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))  # pragma: no mutate
        self.error = error


class _Retryable(Exception):
    """One try failed in a way that a further try might fix."""

    def __init__(self, error: Exception, *, sent: bool) -> None:
        super().__init__(str(error))  # pragma: no mutate
        self.error = error
        self.sent = sent


class UpstreamClient:
    """One ProxStop host: `post_form` is the one way any endpoint of it is called."""

    STATUS_ENDPOINT: Final = "telephonestatus"

    def __init__(
        self, base_url: str, upstream_format: str, pool: urllib3.PoolManager = POOL
    ) -> None:
        url = f"{base_url}/{self.STATUS_ENDPOINT}.{upstream_format}"
        # The host's connection pool, looked up once: per request only urlopen runs.
        self._pool = pool.connection_from_url(url)
        self._base_path = (urllib3.util.parse_url(base_url).path or "").rstrip("/")
        self._format = upstream_format

    def path_of(self, endpoint: str) -> str:
        """The request path of an endpoint (`telephonestatus`, `telephonesms`, ...)."""
        return f"{self._base_path}/{endpoint}.{self._format}"

    def fetch(
        self, *, key: str, reference_id: str, code: str | None, deadline: Deadline
    ) -> UpstreamReply:
        fields = {"key": key, "referenceid": reference_id}
        if code is not None:
            fields["code"] = code
        # A status-only lookup changes nothing upstream; a PIN check may count an attempt.
        try:
            return self.post_form(
                self.STATUS_ENDPOINT, fields, deadline, retry_after_send=code is None
            )
        except NotSent as not_sent:
            raise not_sent.error from None

    def send_once(
        self, endpoint: str, fields: Mapping[str, str], deadline: Deadline
    ) -> UpstreamReply:
        """A start (SMS or call): never repeated once the request may have left.

        Raises NotSent when no try reached the upstream, so the caller knows nothing was sent.
        """
        return self.post_form(endpoint, fields, deadline)

    def post_form(
        self,
        endpoint: str,
        fields: Mapping[str, str],
        deadline: Deadline,
        *,
        retry_after_send: bool = False,
    ) -> UpstreamReply:
        """POSTs `fields` as a form to `endpoint`; status and body (capped), all within `deadline`.

        Every byte, from the connection and TLS handshake to the last byte of the body, fits
        the deadline (UpstreamTimeout otherwise). A call is retried after a failure before
        the request left; after it left, and on a 5xx, only when `retry_after_send` (a call
        that changes nothing upstream). A 5xx, 429, 1xx or 3xx comes back with an empty body.
        NotSent (carrying the answer) when the last try failed before the request left.
        """
        body = urlencode(dict(fields)).encode("ascii")
        started = time.monotonic()
        for attempt in range(1, MAX_TRIES + 1):
            try:
                status, payload = self._try_once(self.path_of(endpoint), body, deadline)
            except _Retryable as failure:
                retry_allowed = retry_after_send or not failure.sent
                if not (retry_allowed and self._pause_before_retry(attempt, deadline)):
                    if not failure.sent:
                        raise NotSent(failure.error) from None
                    raise failure.error from None
                continue
            if status >= 500 and retry_after_send and self._pause_before_retry(attempt, deadline):
                continue
            elapsed_ms = (time.monotonic() - started) * 1000
            return UpstreamReply(status, payload, elapsed_ms, attempt)
        # Unreachable: the last try returns or raises.
        raise AssertionError("unreachable")  # pragma: no cover, no mutate

    def _try_once(self, path: str, body: bytes, deadline: Deadline) -> tuple[int, bytes]:
        with _deadline_bound(deadline):
            try:
                return self._exchange(path, body, deadline)
            except (HTTPError, OSError, http.client.HTTPException) as exc:
                if deadline.expired():
                    # Cut at the deadline, whatever the failure looked like from inside.
                    raise UpstreamTimeout(
                        reason="upstream did not answer in time"  # pragma: no mutate
                    ) from None
                raise UpstreamUnavailable(
                    reason=f"upstream call failed: {type(exc).__name__}"  # pragma: no mutate
                ) from None
            except _Retryable as failure:
                if deadline.expired():
                    # A timeout now, but whether the request left still decides (a start).
                    late = UpstreamTimeout(
                        reason="upstream did not answer in time"  # pragma: no mutate
                    )
                    raise _Retryable(late, sent=failure.sent) from None
                raise failure from None

    def _exchange(self, path: str, body: bytes, deadline: Deadline) -> tuple[int, bytes]:
        remaining = deadline.remaining()
        if remaining < MIN_TRY_SECONDS:
            # Nothing left this process: a start that ends here has sent nothing.
            late = UpstreamTimeout(reason="no time left for the upstream call")  # pragma: no mutate
            raise _Retryable(late, sent=False)
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_CAP, remaining), read=remaining)
        try:
            response = self._pool.urlopen(
                "POST",
                path,
                body=body,
                headers=REQUEST_HEADERS,
                timeout=timeout,
                retries=False,
                redirect=False,
                preload_content=False,
                release_conn=False,
            )
        except (ConnectTimeoutError, NewConnectionError) as exc:
            # The request never left: safe to retry even with a PIN.
            error: Exception = (
                UpstreamTimeout(reason="connect timed out")  # pragma: no mutate
                if isinstance(exc, ConnectTimeoutError) and deadline.expired()
                else UpstreamUnavailable(
                    reason=f"connection failed: {type(exc).__name__}"  # pragma: no mutate
                )
            )
            raise _Retryable(error, sent=False) from None
        except ReadTimeoutError:
            raise UpstreamTimeout(
                reason="upstream did not answer in time"  # pragma: no mutate
            ) from None
        except SSLError:
            if deadline.expired():
                raise UpstreamTimeout(
                    reason="TLS handshake not done in time"  # pragma: no mutate
                ) from None
            raise UpstreamUnavailable(
                reason="TLS handshake with upstream failed"  # pragma: no mutate
            ) from None
        except ProtocolError as exc:
            if _malformed_http(exc):
                raise UpstreamBadResponse(
                    reason="upstream status line is malformed"  # pragma: no mutate
                ) from None
            raise _Retryable(
                UpstreamUnavailable(
                    reason=f"connection broken: {type(exc).__name__}"  # pragma: no mutate
                ),
                sent=True,
            ) from None
        except InvalidHeader:
            # urllib3 reads Content-Length before this module does and refuses values that
            # disagree: the same malformed answer as the ones _declared_length refuses.
            raise UpstreamBadResponse(
                reason="upstream sent conflicting Content-Length values"  # pragma: no mutate
            ) from None
        except (HTTPError, OSError) as exc:
            raise _Retryable(
                UpstreamUnavailable(
                    reason=f"connection broken: {type(exc).__name__}"  # pragma: no mutate
                ),
                sent=True,
            ) from None
        try:
            status = response.status
            if not status_meaning(status).has_document:
                # Decided by its status alone (docs/upstream.md): its body, however large or
                # slow, is not read at all.
                response.close()
                return status, b""
            payload = _read_capped(response, deadline)
        except (ValueError, LookupError, http.client.HTTPException):
            # Whatever else the upstream's bytes trip in the HTTP stack is the upstream's fault.
            response.close()
            raise UpstreamBadResponse(
                reason="upstream HTTP response is malformed"  # pragma: no mutate
            ) from None
        finally:
            response.release_conn()
        return status, payload

    @staticmethod
    def _pause_before_retry(attempt: int, deadline: Deadline) -> bool:
        if attempt >= MAX_TRIES:
            return False
        pause = BACKOFF_BASE * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311 - jitter
        if deadline.remaining() < pause + MIN_TRY_SECONDS * 2:
            return False
        time.sleep(pause)
        return True


@contextlib.contextmanager
def _deadline_bound(deadline: Deadline) -> Iterator[None]:
    token = CALL_DEADLINE.set(deadline)
    try:
        yield
    finally:
        CALL_DEADLINE.reset(token)


def _malformed_http(error: ProtocolError) -> bool:
    """The upstream answered, but not in HTTP (a closed connection is not that)."""
    return any(
        isinstance(cause, http.client.BadStatusLine | http.client.LineTooLong)
        and not isinstance(cause, http.client.RemoteDisconnected)
        for cause in error.args
    )


def _declared_length(response: urllib3.BaseHTTPResponse) -> int | None:
    """The Content-Length, ASCII digits only; repeated headers must agree (RFC 9110 8.6)."""
    values = response.headers.getlist("Content-Length")
    if not values:
        return None
    lengths = set()
    for value in values:
        for item in value.split(","):
            digits = item.strip(" \t")  # optional whitespace: SP and HTAB only
            if not _CONTENT_LENGTH.fullmatch(digits):
                raise UpstreamBadResponse(
                    reason="upstream Content-Length is not a number"  # pragma: no mutate
                )
            lengths.add(int(digits))
    if len(lengths) != 1:
        raise UpstreamBadResponse(
            reason="upstream sent conflicting Content-Length values"  # pragma: no mutate
        )
    return lengths.pop()


def _read_capped(response: urllib3.BaseHTTPResponse, deadline: Deadline) -> bytes:
    """Reads at most MAX_BODY_BYTES, and never past the deadline (a drip-fed body)."""
    try:
        declared = _declared_length(response)
    except UpstreamBadResponse:
        response.close()
        raise
    if declared is not None and declared > MAX_BODY_BYTES:
        response.close()
        raise UpstreamBadResponse(reason="upstream body over the size cap")  # pragma: no mutate
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            # Each read is bounded by the time left (bounded_io); this stops
            # between reads once the deadline has passed.
            if deadline.expired():
                response.close()
                raise UpstreamTimeout(
                    reason="upstream body not received in time"  # pragma: no mutate
                )
            chunk = response.read1(MAX_BODY_BYTES + 1 - size)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                response.close()
                raise UpstreamBadResponse(
                    reason="upstream body over the size cap"  # pragma: no mutate
                )
    except ReadTimeoutError:
        response.close()
        raise UpstreamTimeout(
            reason="upstream body not received in time"  # pragma: no mutate
        ) from None
    except (ProtocolError, HTTPError, OSError) as exc:
        response.close()
        raise _Retryable(
            UpstreamUnavailable(
                reason=f"upstream body broken: {type(exc).__name__}"  # pragma: no mutate
            ),
            sent=True,
        ) from None
