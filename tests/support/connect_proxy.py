"""An HTTP CONNECT proxy on loopback, as the outbound proxy of a company network.

It reads each client's ``CONNECT host:port`` and headers, records the target and the
``Proxy-Authorization`` header, then (when the credentials are right, or none are required)
answers ``200`` and relays bytes both ways between the client and the target; otherwise it answers
``407``. It keeps every byte the client sent through the tunnel (``relayed``), so a test can show
the proxy saw only TLS, never the webhook's path or message."""
from __future__ import annotations

import base64
import socket
import threading
from typing import Self


class ConnectProxy:
    """``127.0.0.1:<port>``, requiring ``user``/``password`` when given (else anyone may CONNECT)."""

    def __init__(self, user: str = "", password: str = "") -> None:
        self.expected = (f"Basic {base64.b64encode(f'{user}:{password}'.encode()).decode('ascii')}"
                         if user else None)
        self.connects: list[str] = []          # the CONNECT targets, host:port
        self.authorizations: list[str] = []    # the Proxy-Authorization headers ("" when absent)
        self.accepted = 0                      # connections of any kind
        self.relayed = bytearray()             # what clients sent through their tunnels
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False

    def url(self, user: str = "", password: str = "") -> str:
        """The proxy's address for HTTPS_PROXY, with ``user:password@`` when given (already URL-encoded)."""
        login = f"{user}:{password}@" if user else ""
        return f"http://{login}127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept_loop, name="connect-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._closed = True
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(10)
        try:
            upstream = self._open_tunnel(client)
        except OSError:
            upstream = None
        if upstream is None:
            client.close()
            return
        outbound = threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True)
        outbound.start()
        self._pipe(upstream, client, False)
        outbound.join(10)
        client.close()
        upstream.close()

    def _open_tunnel(self, client: socket.socket) -> socket.socket | None:
        """Read the CONNECT and answer it: the socket to the target, or None (refused, answered)."""
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return None
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        with self._lock:
            self.connects.append(target)
            self.authorizations.append(headers.get("proxy-authorization", ""))
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return None
        if self.expected is not None and headers.get("proxy-authorization") != self.expected:
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                           b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n")
            return None
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def _pipe(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        """Copy ``source`` to ``sink`` until it ends, then end ``sink``'s sending side."""
        try:
            while chunk := source.recv(65536):
                if outbound:
                    with self._lock:
                        self.relayed.extend(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
