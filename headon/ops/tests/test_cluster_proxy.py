"""The loopback cluster's proxy (headon.ops.cluster.Proxy): it passes bytes
untouched, so keep-alive, request bodies and chunked responses work; it
skips a web process that refuses connections, and answers 502 when none
takes one. (The cluster itself: headon/tests/test_cluster.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from headon.ops.cluster import Proxy, free_port


class ChunkedEcho(BaseHTTPRequestHandler):
    """Echoes a request's body back in a chunked response, over keep-alive."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (body[:5], body[5:], b""):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def backend() -> Iterator[tuple[str, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChunkedEcho)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def proxy(backends: list[tuple[str, int]]) -> Iterator[tuple[int, Proxy]]:
    front = Proxy(backends)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(front.handle, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1], front
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def test_requests_with_bodies_and_chunked_answers_pass_on_one_kept_alive_connection():
    with backend() as web, proxy([web]) as (port, front):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for body in (b"first request body", "第二个请求".encode()):
            client.request("POST", "/", body=body)
            response = client.getresponse()
            assert response.status == 200
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert response.read() == body
        client.close()
    assert front.stats.connections == [1]


def test_a_web_process_that_refuses_is_skipped_for_the_next_one():
    down = ("127.0.0.1", free_port())  # nothing listens there
    with backend() as web, proxy([down, web]) as (port, front):
        for _ in range(2):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            client.request("POST", "/", body=b"hello")
            assert client.getresponse().read() == b"hello"
            client.close()
    assert front.stats.connections == [0, 2]
    assert front.stats.refused == [1, 0]  # tried first once, in its turn


def test_with_no_web_process_up_the_answer_is_502():
    with proxy([("127.0.0.1", free_port())]) as (port, front):
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.request("GET", "/")
        assert client.getresponse().status == 502
        client.close()
    assert front.stats.unavailable == 1
