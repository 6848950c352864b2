"""The demo page's web server: another origin than the API, so that a browser really does CORS.

`make run` serves the API on http://127.0.0.1:3000 and this on http://localhost:3001: the host
differs, so the origin does, and every call the page makes is a cross-origin one, preflight
included, exactly as a web app meets the deployed API.

It serves the files of clients/web/ (the reference client and demo/), a generated
/config.json (the API's base URL, the sandbox inbox), and /sandbox/inbox, a same-origin
pass-through to the sandbox's inbox so that the page can fill in the PIN the sandbox "sent"
(the sandbox itself answers no CORS). Loopback only: it binds 127.0.0.1 and answers only to
the host names localhost and 127.0.0.1, so a DNS-rebinding page cannot read the inbox through it.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from local.httpbase import LISTEN_HOST, TrackedHandler, TrackingHTTPServer

WEB_ROOT: Final = Path(__file__).resolve().parent.parent / "clients" / "web"
DEFAULT_DEMO_PORT: Final = 3001
DEMO_HOST: Final = "localhost"
INBOX_PATH: Final = "/sandbox/inbox"
INBOX_TIMEOUT_SECONDS: Final = 5.0
MAX_INBOX_BYTES: Final = 64 * 1024
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
}
# The page loads only its own files; it talks to the API (another origin) and nothing else
# it did not choose (`?api=` may point it at any http(s) deployment).
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' http: https:;"
    " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _files(root: Path) -> dict[str, Path]:
    """URL path -> file, fixed at start: nothing outside this table is ever read."""
    found = {
        "/" + path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in _TYPES
    }
    found["/demo/"] = root / "demo" / "index.html"
    return found


class DemoServer(TrackingHTTPServer):
    """Static files + config + inbox pass-through; `api_url`/`sandbox_url` are set before start."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        api_url: str,
        sandbox_url: str | None = None,
        quiet: bool = False,
    ) -> None:
        self.api_url = api_url
        self.sandbox_url = sandbox_url
        self.quiet = quiet
        self.files = _files(WEB_ROOT)
        super().__init__(address, _DemoHandler)

    @property
    def origin(self) -> str:
        """The page's origin, the one the API must allow (CORS_ALLOW_ORIGINS)."""
        return f"http://{DEMO_HOST}:{self.port}"

    @property
    def page_url(self) -> str:
        return f"{self.origin}/demo/"

    def config(self) -> dict[str, str | None]:
        return {
            "apiBase": self.api_url,
            "inbox": INBOX_PATH if self.sandbox_url else None,
            "sandboxInbox": f"{self.sandbox_url}/inbox" if self.sandbox_url else None,
        }


class _DemoHandler(TrackedHandler):
    server_version = "local-demo"
    server: DemoServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        url = urlsplit(self.path)
        host = self.headers.get("Host", "")
        if host not in (f"{DEMO_HOST}:{self.server.port}", f"{LISTEN_HOST}:{self.server.port}"):
            self._send(421, "text/plain; charset=utf-8", b"Misdirected request\n")
        elif url.path == "/":
            self._send(302, "text/plain; charset=utf-8", b"", location="/demo/")
        elif url.path == "/config.json":
            self._send(200, "application/json", json.dumps(self.server.config()).encode())
        elif url.path == INBOX_PATH:
            self._inbox(url.query)
        elif (file := self.server.files.get(url.path)) is not None:
            self._send(200, _TYPES[file.suffix], file.read_bytes())
        else:
            self._send(404, "text/plain; charset=utf-8", b"Not found\n")

    def _inbox(self, query: str) -> None:
        """Forwards `phoneNumber` alone to the sandbox's inbox and hands back its answer."""
        sandbox = self.server.sandbox_url
        phone = dict(parse_qsl(query)).get("phoneNumber")
        if sandbox is None or not phone:
            self._send(404, "application/json", b'{"error": "no sandbox inbox"}')
            return
        target = f"{sandbox}/inbox?{urlencode({'phoneNumber': phone})}"
        try:
            with urllib.request.urlopen(target, timeout=INBOX_TIMEOUT_SECONDS) as answer:
                status, body = answer.status, answer.read(MAX_INBOX_BYTES)
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read(MAX_INBOX_BYTES)
        except OSError:
            status, body = 502, b'{"error": "the sandbox inbox did not answer"}'
        self._send(status, "application/json", body)

    def _send(self, status: int, content_type: str, body: bytes, location: str = "") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Content-Security-Policy", _CSP)
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True
        if not self.server.quiet:
            # The path only: the inbox query names a phone number.
            sys.stderr.write(f"demo: GET {urlsplit(self.path).path} -> {status}\n")


def bind_demo(port: int, *, api_url: str, quiet: bool = False) -> DemoServer:
    """Binds 127.0.0.1:`port` (0: any free port); `start()` it once `sandbox_url` is known.

    Raises OSError when the port is taken.
    """
    return DemoServer((LISTEN_HOST, port), api_url=api_url, quiet=quiet)
