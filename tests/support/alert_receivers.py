"""Receivers on loopback for alert delivery tests: a webhook (HTTP or HTTPS) and a mail server (aiosmtpd).

``WebhookReceiver`` answers each POST with the next status of its ``script`` (then 200) and keeps
what it received (over TLS with ``tls=(certificate, key)``, at ``https://localhost:<port>``); ``smtp_server`` runs aiosmtpd with STARTTLS, implicit TLS or none, and an
optional login, keeping the messages. ``self_signed`` makes a certificate for 127.0.0.1/localhost
with ``cryptography`` (the client trusts it through the channel's ``ca_file``)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records POSTed JSON and answers from ``script``."""

    def __init__(self, script: list[int] | None = None, path: str = "/hooks/T000/B000/distinctive-hook-token",
                 tls: tuple[Path, Path] | None = None) -> None:
        self.script = list(script or [])
        self.tls = tls
        self.path = path
        self.received: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver.script.pop(0) if receiver.script else 200
                receiver.statuses.append(status)
                if status < 300:
                    receiver.received.append({"path": self.path, "json": json.loads(body.decode("utf-8"))})
                payload = (b"ok" if status < 300 else b"server_error " + receiver.path.encode())
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        if self.tls is not None:  # the certificate names localhost
            return f"https://localhost:{self.port}{self.path}"
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class MailBox:
    """What the SMTP server received: envelopes (sender, recipients, content) and login attempts."""

    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(folder: Path, *, security: str = "none", users: dict[str, str] | None = None) -> Iterator[tuple[int, MailBox, Path | None]]:
    """An aiosmtpd server on 127.0.0.1: (port, mailbox, CA file to trust or None)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = MailBox()
    cert = context = None
    if security in ("starttls", "tls"):
        cert, key = self_signed(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        box.logins.append(user)
        ok = users is not None and users.get(user) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False)

    kwargs: dict = {"hostname": "127.0.0.1", "port": free_port(), "ready_timeout": 10}
    if users is not None:
        kwargs.update(authenticator=authenticator, auth_require_tls=security != "none", auth_required=True)
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif security == "tls":
        kwargs.update(ssl_context=context)
    controller = Controller(box, **kwargs)
    controller.start()
    try:
        yield controller.port, box, cert
    finally:
        controller.stop()
