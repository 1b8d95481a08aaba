"""A stand-in for a browser's push service (RFC 8030) on loopback, and the browser's side of a subscription.

The service keeps the part of the contract a push service enforces on an application server:

- ``POST /push/<id>`` delivers to subscription ``<id>`` (unknown: 404). The body is at most 4096 bytes (413).
- ``TTL`` is required, a non-negative integer (RFC 8030, 5.2: 400 without it); ``Urgency``, when present, is one of
  ``very-low``, ``low``, ``normal``, ``high`` (400 otherwise); a body needs ``Content-Encoding: aes128gcm`` (RFC 8291;
  400 otherwise).
- VAPID (RFC 8292): ``Authorization: vapid t=<JWT>, k=<key>``. Absent: 401. The JWT must be ES256, its signature valid
  under ``k``, ``aud`` this service's origin, ``exp`` in the future and at most 24 hours ahead, ``sub`` a ``mailto:``
  or ``https:`` contact; and ``k`` must be the ``applicationServerKey`` the subscription was created with. Else 403.
- Then 201 Created with a ``Location``, unless told to answer otherwise (:attr:`FakePushService.answer`, e.g. 404,
  410, 429, 500), per subscription or for all.

Every request is recorded (:attr:`FakePushService.requests`) with its headers, body, verdict and the VAPID claims;
:class:`Browser` holds a subscription's private ECDH key and auth secret, as a browser does, and decrypts a message
body the RFC 8291 way, written here from the RFC with ``cryptography`` alone (independent of what oO sends with).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.fakes.server import FakeHTTPServer, LoopbackFake

MAX_BODY = 4096
URGENCIES = {"very-low", "low", "normal", "high"}
MAX_EXP_S = 24 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _hkdf(salt: bytes, info: bytes, length: int, ikm: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def decrypt_aes128gcm(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """RFC 8291 (Web Push message encryption) over RFC 8188 (``aes128gcm``), as a user agent decrypts a push."""
    salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
    sender_public = body[21 : 21 + id_length]  # keyid: the application server's ephemeral ECDH public key
    records = body[21 + id_length :]
    assert id_length == 65, "keyid must be the sender's uncompressed P-256 point"
    assert sender_public[0] == 0x04, "keyid must be the sender's uncompressed P-256 point"
    shared = private_key.exchange(
        ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
    )
    key_info = b"WebPush: info\x00" + _point(private_key.public_key()) + sender_public
    ikm = _hkdf(auth_secret, key_info, 32, shared)
    content_key = _hkdf(salt, b"Content-Encoding: aes128gcm\x00", 16, ikm)
    nonce = _hkdf(salt, b"Content-Encoding: nonce\x00", 12, ikm)
    plaintext = b""
    starts = range(0, len(records), record_size)
    for sequence, start in enumerate(starts):
        iv = (int.from_bytes(nonce, "big") ^ sequence).to_bytes(12, "big")
        padded = AESGCM(content_key).decrypt(iv, records[start : start + record_size], None).rstrip(b"\x00")
        last = sequence == len(starts) - 1
        assert padded[-1:] == (b"\x02" if last else b"\x01"), "bad record delimiter"
        plaintext += padded[:-1]
    return plaintext


@dataclass
class Browser:
    """A browser's side of one push subscription: its ECDH key pair and auth secret, never shown to the server."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)

    @classmethod
    def new(cls, endpoint: str) -> Browser:
        return cls(endpoint=endpoint, private_key=ec.generate_private_key(ec.SECP256R1()), auth_secret=os.urandom(16))

    @property
    def id(self) -> str:
        return self.endpoint.rsplit("/", 1)[-1]

    def to_json(self, expiration_time: float | None = None) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` returns in the browser."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": expiration_time,
            "keys": {"p256dh": b64url(_point(self.private_key.public_key())), "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """The JSON message of a push body, decrypted with this browser's keys."""
        return json.loads(decrypt_aes128gcm(body, self.private_key, self.auth_secret))


@dataclass(frozen=True)
class PushRequest:
    """One request the service received, and its answer (``reason`` says why when it was refused)."""

    subscription: str
    headers: dict[str, str]
    body: bytes
    status: int
    reason: str = ""
    claims: dict[str, Any] = field(default_factory=dict)


def _verify_vapid(header: str, origin: str, server_key: str) -> tuple[int, str, dict[str, Any]]:
    """(status, reason, claims) of an ``Authorization`` header under RFC 8292; status 0 when it is valid."""
    if not header:
        return 401, "no VAPID authorization", {}
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        return 401, f"authorization scheme {scheme!r} is not vapid", {}
    parts = dict(item.strip().split("=", 1) for item in params.split(",") if "=" in item)
    token, key = parts.get("t", ""), parts.get("k", "")
    try:
        encoded_header, encoded_claims, encoded_signature = token.split(".")
        jwt_header = json.loads(unb64url(encoded_header))
        claims = json.loads(unb64url(encoded_claims))
        signature = unb64url(encoded_signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    except (ValueError, binascii.Error, json.JSONDecodeError):
        return 403, "malformed VAPID token or key", {}
    if jwt_header.get("alg") != "ES256" or len(signature) != 64:
        return 403, f"the JWT is not ES256: {jwt_header}", claims
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public.verify(
            encode_dss_signature(r, s), f"{encoded_header}.{encoded_claims}".encode(), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return 403, "the JWT signature does not verify with k", claims
    now = time.time()
    if claims.get("aud") != origin:
        return 403, f"aud {claims.get('aud')!r} is not {origin!r}", claims
    if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + MAX_EXP_S:
        return 403, f"exp {claims.get('exp')!r} is not within the next 24 hours", claims
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        return 403, f"sub {claims.get('sub')!r} is not a mailto: or https: contact", claims
    if key != server_key:
        return 403, "k is not the applicationServerKey of this subscription", claims
    return 0, "", claims


class _Handler(BaseHTTPRequestHandler):
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, request: PushRequest | None = None) -> None:
        fake: FakePushService = self.server.fake
        if request is not None:
            with fake.lock:
                fake.requests.append(request)
        self.send_response(status)
        if status == 201:
            self.send_header("Location", f"{fake.base_url}/message/{len(fake.requests)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        fake: FakePushService = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        subscription = self.path.removeprefix("/push/")
        status, reason, claims = fake.verdict(subscription, headers, body)
        self._answer(status, PushRequest(subscription, headers, body, status, reason, claims))


class FakePushService(LoopbackFake):
    """A push service on 127.0.0.1 (see the module)."""

    handler = _Handler
    name = "fake-push-service"

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.requests: list[PushRequest] = []
        self.subscriptions: dict[str, str] = {}  # id -> the applicationServerKey it was created with
        self.answer: dict[str, int] = {}  # id (or "*" for all) -> the status to answer a valid request with

    def subscribe(self, application_server_key: str) -> Browser:
        """A new subscription for ``application_server_key``, as ``pushManager.subscribe`` creates one."""
        browser = Browser.new(f"{self.base_url}/push/{b64url(os.urandom(12))}")
        self.subscriptions[browser.id] = application_server_key
        return browser

    @property
    def delivered(self) -> list[PushRequest]:
        """The requests it accepted (201), in order."""
        with self.lock:
            return [request for request in self.requests if request.status == 201]

    def verdict(self, subscription: str, headers: dict[str, str], body: bytes) -> tuple[int, str, dict[str, Any]]:
        server_key = self.subscriptions.get(subscription)
        if server_key is None:
            return 404, "no such subscription", {}
        status, reason, claims = _verify_vapid(headers.get("authorization", ""), self.base_url, server_key)
        if status:
            return status, reason, claims
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            return 400, f"TTL {ttl!r} is not a non-negative integer", claims
        if "urgency" in headers and headers["urgency"] not in URGENCIES:
            return 400, f"Urgency {headers['urgency']!r} is not one of {sorted(URGENCIES)}", claims
        if body and headers.get("content-encoding") != "aes128gcm":
            return 400, f"Content-Encoding {headers.get('content-encoding')!r} is not aes128gcm", claims
        if len(body) > MAX_BODY:
            return 413, "payload too large", claims
        forced = self.answer.get(subscription, self.answer.get("*"))
        return (forced, "told to", claims) if forced else (201, "", claims)
