"""`BlackHole`: a TCP endpoint on 127.0.0.1 that accepts connections and never answers.

The worst kind of unreachable: the connect succeeds at once, then nothing comes
back (a hung AWS endpoint, a stuck proxy). Used as AWS_ENDPOINT_URL to check
that every AWS call still ends within the invocation's deadline (docs/upstream.md).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class BlackHole:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)  # kept open, never read, never answered

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(2.0)
        for connection in [*self._held, self._listener]:
            with contextlib.suppress(OSError):
                connection.close()

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
