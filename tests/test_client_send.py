"""client.send_submission: what a restricted client's notebook does on the network."""
from __future__ import annotations

import http.server
import threading

import pytest

from vision_widgets import client


@pytest.fixture
def redirecting_server():
    """A local server that answers every POST with a redirect to another host, and records requests."""
    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.2:9/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(redirecting_server):
    url, seen = redirecting_server
    answer = client.send_submission(url, "secret-token", "My model", {"schema": "vision.submission"}, timeout=5)
    assert answer["ok"] is False and answer["status"] == 307
    assert seen == [("/vision/api/models/My%20model/profiles", "Bearer secret-token")]


def test_an_unreachable_server_says_to_upload_the_file():
    answer = client.send_submission("http://127.0.0.1:9", "t", "m", {}, timeout=2)
    assert answer["ok"] is False and "Upload the written JSON file" in answer["message"]


def test_a_url_that_is_not_http_is_refused_before_sending():
    answer = client.send_submission("file:///etc/passwd", "t", "m", {})
    assert answer["ok"] is False and "not an http(s) address" in answer["message"]
