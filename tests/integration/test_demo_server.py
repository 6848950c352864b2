"""The demo page's server (local/demo.py) over real HTTP: what it serves and what it refuses."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Final

import pytest

from local.demo import DemoServer, bind_demo
from local.httpbase import TrackedHandler, TrackingHTTPServer

API_URL: Final = "http://127.0.0.1:3999"


class _FakeInbox(TrackedHandler):
    """Stands in for the sandbox's inbox: answers one message, remembers what it was asked."""

    server: _InboxServer

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        body = json.dumps([{"pin": "24680"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _InboxServer(TrackingHTTPServer):
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), handler)


@pytest.fixture
def inbox() -> Iterator[_InboxServer]:
    server = _InboxServer(_FakeInbox)
    server.start("fake-inbox")
    yield server
    server.stop()


@pytest.fixture
def demo(inbox: _InboxServer) -> Iterator[DemoServer]:
    server = bind_demo(0, api_url=API_URL, quiet=True)
    server.sandbox_url = inbox.url
    server.start("demo")
    yield server
    server.stop()


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: http.client.HTTPMessage
    data: bytes


def _get(demo: DemoServer, path: str, host: str | None = None) -> _Answer:
    """One GET with the path sent as is (no client-side dot-segment clean-up)."""
    connection = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=5.0)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host or f"localhost:{demo.port}")
        connection.endheaders()
        response = connection.getresponse()
        return _Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def test_serves_the_page_the_client_and_its_config(demo: DemoServer, inbox: _InboxServer) -> None:
    page = _get(demo, "/demo/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'src="demo.js"' in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    client = _get(demo, "/telephone-status.js")
    assert client.status == 200
    assert client.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"export function createClient" in client.data
    assert _get(demo, "/").headers["Location"] == "/demo/"
    assert json.loads(_get(demo, "/config.json").data) == {
        "apiBase": API_URL,
        "inbox": "/sandbox/inbox",
        "sandboxInbox": f"{inbox.url}/inbox",
    }
    assert demo.origin == f"http://localhost:{demo.port}"


@pytest.mark.parametrize(
    "path",
    ["/demo/../../README.md", "/%2e%2e/README.md", "/../local/demo.py", "/demo", "/x.js"],
)
def test_nothing_outside_the_client_files_is_served(demo: DemoServer, path: str) -> None:
    assert _get(demo, path).status == 404


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost:1"])
def test_other_host_names_are_refused(demo: DemoServer, host: str) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: it gets nothing."""
    answer = _get(demo, "/config.json", host=host.format(port=demo.port))
    assert answer.status == 421
    assert b"apiBase" not in answer.data


def test_the_inbox_pass_through_forwards_the_phone_number_alone(
    demo: DemoServer, inbox: _InboxServer
) -> None:
    answer = _get(demo, "/sandbox/inbox?phoneNumber=%2B12015550342&key=x&other=1")
    assert answer.status == 200
    assert json.loads(answer.data) == [{"pin": "24680"}]
    assert inbox.paths == ["/inbox?phoneNumber=%2B12015550342"]


def test_no_inbox_without_a_sandbox_or_a_number(demo: DemoServer, inbox: _InboxServer) -> None:
    assert _get(demo, "/sandbox/inbox").status == 404
    demo.sandbox_url = None
    assert _get(demo, "/sandbox/inbox?phoneNumber=%2B12015550342").status == 404
    assert json.loads(_get(demo, "/config.json").data)["inbox"] is None
    assert inbox.paths == []


def test_an_unreachable_sandbox_is_a_502(demo: DemoServer) -> None:
    demo.sandbox_url = "http://127.0.0.1:1"  # nothing listens there: refused
    assert _get(demo, "/sandbox/inbox?phoneNumber=%2B1").status == 502
