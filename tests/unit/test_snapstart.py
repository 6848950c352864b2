"""SnapStart hooks: registration with the runtime's module, re-seeding, dropping pooled sockets."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import snapshot_restore_py  # type: ignore[import-untyped]
import urllib3
from telephone_status import snapstart
from telephone_status.aws_clients import TIERS


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the pool keeps the connection
    disable_nagle_algorithm = True
    wbufsize = -1
    connections: set[tuple[str, int]] = set()  # noqa: RUF012 - one server per test

    def do_GET(self) -> None:
        type(self).connections.add(self.client_address)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.wfile.flush()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    _CountingHandler.connections = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_hooks_register_with_the_runtimes_module(monkeypatch: pytest.MonkeyPatch) -> None:
    before: list[object] = []
    after: list[object] = []
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", before)
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", after)
    assert snapstart.register_hooks()
    assert [entry[0] if isinstance(entry, tuple) else entry for entry in before] == [
        snapstart.prepare_snapshot
    ]
    assert [entry[0] if isinstance(entry, tuple) else entry for entry in after] == [
        snapstart.after_restore
    ]


def test_without_the_runtimes_module_registering_is_a_no_op(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import then fails
    assert snapstart.register_hooks() is False


def test_each_restored_copy_draws_its_own_random_numbers() -> None:
    # Two copies restored from one snapshot start with the same generator state.
    random.seed(1234)
    snapshot_state = random.getstate()
    draws = []
    for _copy in range(2):
        random.setstate(snapshot_state)
        snapstart.after_restore()
        draws.append([random.random() for _ in range(4)])
    assert draws[0] != draws[1]
    random.setstate(snapshot_state)
    assert [random.random() for _ in range(4)] not in draws


def test_pooled_connections_are_dropped_and_the_pool_reconnects(server_url: str) -> None:
    pool = urllib3.PoolManager(num_pools=1, maxsize=1)
    assert pool.request("GET", server_url).status == 200
    assert pool.request("GET", server_url).status == 200
    assert len(_CountingHandler.connections) == 1  # kept alive before the "snapshot"

    assert snapstart.close_pooled_connections() >= 1
    snapstart.after_restore()

    assert pool.request("GET", server_url).status == 200
    assert len(_CountingHandler.connections) == 2  # a new socket, not the restored one
    pool.clear()


def test_prepare_snapshot_builds_the_dependencies_without_fetching(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from telephone_status import service  # noqa: PLC0415

    monkeypatch.setenv("PROXSTOP_SECRET_ID", "telephone-status/test/key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Any AWS call would fail here: nothing listens on this port.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("ATTEMPTS_TABLE_NAME", raising=False)
    service.reset_cold_start_state()
    try:
        snapstart.prepare_snapshot()
        assert service.get_dependencies.cache_info().currsize == 1
        deps = service.get_dependencies()
        assert deps.aws_services == ("secretsmanager",)
        # Every tier's client is in the snapshot: a restored copy builds none.
        built = deps.aws._clients
        assert sorted(built) == [("secretsmanager", index) for index in range(len(TIERS))]
    finally:
        service.reset_cold_start_state()


def test_prepare_snapshot_leaves_a_bad_configuration_to_the_first_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from telephone_status import service  # noqa: PLC0415

    monkeypatch.delenv("PROXSTOP_SECRET_ID", raising=False)
    service.reset_cold_start_state()
    try:
        snapstart.prepare_snapshot()  # does not raise
        assert service.get_dependencies.cache_info().currsize == 0
    finally:
        service.reset_cold_start_state()
