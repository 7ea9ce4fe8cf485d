"""A loopback TCP proxy whose "network" can drop and come back: a network blip, made on demand.

Playwright's ``context.set_offline(True)`` does not touch a WebSocket that is already open
(microsoft/playwright#4910), so it cannot show what a dropped connection does to a page. Put
this proxy between the browser and the server instead, load the page through :attr:`url`, then

* :meth:`drop` resets every connection going through it (browser and server both see their
  sockets close, as after a lost Wi-Fi) and holds new connections back, unanswered, like a
  network that drops packets;
* :meth:`restore` lets the held connections through to the server, as when the network returns.
"""
from __future__ import annotations

import socket
import struct
import threading


def _abort(sock: socket.socket) -> None:
    """Close ``sock`` with a reset, waking any thread blocked on it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class FlakyProxy:
    """Forward ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream_port>``; see the module docstring."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._closed = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept_loop, name="flaky-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    # -- the network ----------------------------------------------------------------------------
    def drop(self) -> None:
        """Reset every open connection; hold new ones until :meth:`restore`."""
        self._up.clear()
        with self._lock:
            doomed, self._open = self._open, set()
        for sock in doomed:
            _abort(sock)

    def restore(self) -> None:
        """Let connections through again (those held since :meth:`drop` go first)."""
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.drop()
        self._up.set()

    # -- forwarding -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._up.wait()
        if self._closed:
            _abort(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            _abort(client)
            return
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
