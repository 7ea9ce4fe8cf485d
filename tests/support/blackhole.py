"""A TCP port on loopback that accepts connections and never answers: a host that hangs.

Connectors must give up on it within their timeout (a closed port is refused at once; this one is
the slow kind of unreachable, as a firewall that drops packets)."""
from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def silent_port() -> Iterator[int]:
    """A listening port whose connections complete and then hear nothing; closed afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def closed_port() -> int:
    """A port nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
