"""Socket reads bounded by the invocation's deadline, for the upstream and the AWS clients.

urllib3, http.client and botocore time out per read: every byte received restarts the
clock, so a peer that drips its status line, headers or body can hold a call far past
any timeout. Hand-written because none of them has a total read timeout. (The TLS
handshake needs nothing: ssl counts the connect timeout as a total for the whole
handshake, and that timeout is never more than the time left.)

The deadline reaches the connection classes through CALL_DEADLINE, since urllib3 and
botocore pass them no such thing: the code about to make an outgoing call sets it.
"""

from __future__ import annotations

import http.client
import io
import socket
from contextvars import ContextVar
from typing import Any

from .deadline import Deadline

# The deadline of the outgoing call under way (or about to start) on this thread.
CALL_DEADLINE: ContextVar[Deadline | None] = ContextVar("call_deadline", default=None)


class DeadlineSocketReader(io.RawIOBase):
    """Reads a socket so that the whole answer, not each read, fits the deadline.

    Before each read the socket's timeout is set to the time left, or to the per-read
    timeout the socket had (the client's read timeout) when that is shorter; once no
    time is left a read raises socket.timeout, which urllib3 reports as ReadTimeoutError.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock = sock
        # Through the socket's own reader, which holds it open: http.client closes a
        # `Connection: close` socket once the headers are read, before the body is.
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._per_read = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("deadline passed while reading the answer")
        per_read = self._per_read
        self._sock.settimeout(remaining if per_read is None else min(per_read, remaining))
        count = self._raw.readinto(buffer)
        if count is None:  # only a non-blocking socket says "nothing yet"; ours wait
            raise TimeoutError("no data from a non-blocking socket")
        return count


class DeadlineBoundResponse(http.client.HTTPResponse):
    """Status line, headers and body are all read against CALL_DEADLINE (when set)."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = CALL_DEADLINE.get()
        if deadline is not None:
            unbounded, self.fp = self.fp, io.BufferedReader(DeadlineSocketReader(sock, deadline))
            unbounded.close()  # releases its hold on the socket (socket._io_refs)
