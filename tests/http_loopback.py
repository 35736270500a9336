"""A threaded HTTP server on 127.0.0.1 for the download tests: it serves files (with
``Range`` support) and, for the hostile-server tests, paths whose responses drip,
stall or never end. Import the ``loopback`` fixture into a test module to use it."""
import http.server
import threading
import time

import pytest

from minidl.datasets import _download

REAL_OPEN_URL = _download._open_url


class LoopbackHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` by path; ``behaviours[path](handler)`` answers other paths."""

    files = {}
    behaviours = {}
    requests = []

    def do_GET(self):
        type(self).requests.append((self.path, self.headers.get("Range")))
        behaviour = self.behaviours.get(self.path)
        if behaviour is not None:
            try:
                behaviour(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"][len("bytes="):].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


def drip(length, interval):
    """A behaviour: announce ``length`` bytes, then send one byte every ``interval`` s."""
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        for _ in range(length):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            time.sleep(interval)
    return respond


def steady(length, block, interval):
    """A behaviour: send ``block`` bytes every ``interval`` s (a fast enough rate that
    still takes ``length / block * interval`` s in all)."""
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        for _ in range(0, length, block):
            handler.wfile.write(b"\0" * block)
            handler.wfile.flush()
            time.sleep(interval)
    return respond


def endless(announce=None):
    """A behaviour: stream zeros until the client hangs up, announcing ``announce``
    bytes (or no length at all)."""
    def respond(handler):
        handler.send_response(200)
        if announce is not None:
            handler.send_header("Content-Length", str(announce))
        handler.end_headers()
        chunk = b"\0" * (64 << 10)
        for _ in range(1 << 16):  # 4 GiB at most, should the client never stop
            handler.wfile.write(chunk)
    return respond


def stall(seconds):
    """A behaviour: send the headers, then nothing for ``seconds``."""
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.flush()
        time.sleep(seconds)
    return respond


@pytest.fixture
def loopback(monkeypatch):
    """Start the server, let the downloader use the real urllib opener, and yield the
    base URL (``http://127.0.0.1:<port>/``)."""
    LoopbackHandler.files, LoopbackHandler.behaviours, LoopbackHandler.requests = {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoopbackHandler)
    server.daemon_threads = True  # a hostile handler still sleeping never blocks the end
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(_download, "_open_url", REAL_OPEN_URL)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
