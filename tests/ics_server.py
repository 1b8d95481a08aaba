"""A real HTTP server on loopback standing in for the server behind an ICS address (or anything a calendar is read
from): each path answers a set status, headers and body (a list of chunks is sent slowly, one every
:data:`DRIP_S`), and every request is recorded. With a TLS context it speaks https. Nothing leaves loopback.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.server import serve_in_background

DRIP_S = 0.1
Body = str | bytes | list[bytes]


@dataclass
class IcsServer:
    """A loopback HTTP server answering ``routes[path] = (status, headers, body)`` (or ``routes["METHOD path"]`` for
    one method only) and recording requests as (method, path, headers)."""

    port: int = 0
    routes: dict[str, tuple[int, dict[str, str], Body]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    scheme: str = "http"
    host: str = "127.0.0.1"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"


def _handler(server: IcsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            server.seen.append((self.command, self.path, dict(self.headers)))
            key = f"{self.command} {self.path}"
            status, headers, body = server.routes.get(key, server.routes.get(self.path, (404, {}, "")))
            chunks = body if isinstance(body, list) else [body.encode() if isinstance(body, str) else body]
            self.send_response(status)
            for name, value in {"Content-Type": "text/calendar", **headers}.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(sum(len(chunk) for chunk in chunks)))
            self.end_headers()
            for number, chunk in enumerate(chunks):
                if number:
                    time.sleep(DRIP_S)
                self.wfile.write(chunk)
                self.wfile.flush()

        do_GET = do_PROPFIND = do_REPORT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up mid-answer (the tests of timeouts and size caps do) is not a failure here


@contextmanager
def serving(tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[IcsServer]:
    """A running :class:`IcsServer` with no route yet (https with ``tls``; ``host`` is the name its URLs use, it
    listens on 127.0.0.1), shut down on exit."""
    state = IcsServer(scheme="https" if tls else "http", host=host)
    httpd = _Server(("127.0.0.1", 0), _handler(state))
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.port = int(httpd.server_address[1])
    serve_in_background(httpd, "ics")
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def ics_server() -> Iterator[IcsServer]:
    """A loopback HTTP server for the test; set ``ics_server.routes[path]`` and fetch ``ics_server.url(path)``."""
    with serving() as server:
        yield server


def self_signed(host: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for ``host``, and the certificate's file (to trust
    it as a client)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
