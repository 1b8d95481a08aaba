"""VAPID (RFC 8292): the key pair oO signs its pushes with, and the contact push services see.

``OO_VAPID_PRIVATE_KEY`` is a P-256 private key, base64url of its raw 32 bytes (what py_vapid's ``from_string``
reads; ``oo push generate-vapid`` prints one) or a PEM. The public key, base64url of the uncompressed point (65 bytes),
is the browser's ``applicationServerKey``. Outside development a missing key or subject is an error when push is used
(never at import); in development a key is generated once into ``data/vapid.key`` (git-ignored). Changing the key
orphans every subscription: browsers must subscribe again. No key material reaches a log line or an error message.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from oo_app.devkeys import read_or_create
from oo_app.push.errors import PushNotConfigured
from oo_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEV_SUBJECT = "mailto:oo@localhost"
B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
KEY_HELP = "generate one with `oo push generate-vapid` and set OO_VAPID_PRIVATE_KEY (and OO_VAPID_SUBJECT)"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as the Push API writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Bytes of (padded or unpadded) base64url; raises ValueError on anything else."""
    cleaned = text.strip()
    if not cleaned or any(char not in B64URL_ALPHABET for char in cleaned.rstrip("=")):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


def raw_private_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The base64url raw 32-byte form of a P-256 private key (what ``OO_VAPID_PRIVATE_KEY`` holds)."""
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    """The ``applicationServerKey``: base64url of the uncompressed public point (65 bytes, 0x04 first)."""
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def parse_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from base64url raw bytes, base64url DER or PEM; PushNotConfigured (without the key) else."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            data = b64url_decode(text)
            if len(data) == 32:
                key = ec.derive_private_key(int.from_bytes(data, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnicodeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PushNotConfigured(
            "OO_VAPID_PRIVATE_KEY is not a P-256 private key (base64url of its 32 raw bytes, or a PEM); " + KEY_HELP
        )
    return key


@dataclass(frozen=True)
class VapidKeys:
    """What signing a push needs: the key, its public half (the ``applicationServerKey``) and the contact."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    public_key: str
    subject: str

    def signer(self) -> Vapid:
        """A py_vapid signer (RFC 8292 ``vapid t=..., k=...``) over the key, for ``pywebpush.webpush``."""
        return Vapid(self.private_key)


def _development_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key of the development key file, generating it (mode 0600) if missing."""
    lines, created = read_or_create(
        path,
        lambda: raw_private_key(generate_private_key()),
        "oO's development VAPID key (OO_VAPID_PRIVATE_KEY); deleting it orphans every subscription",
    )
    if not lines:
        raise PushNotConfigured(f"{path} holds no VAPID key; delete it to have one generated, or {KEY_HELP}")
    if created:
        log.warning(
            "web push: OO_VAPID_PRIVATE_KEY is unset, so a development key was generated into %s; browsers subscribed "
            "with it must subscribe again if it is deleted. Set OO_VAPID_PRIVATE_KEY outside development.",
            path,
        )
    return parse_private_key("\n".join(lines))


def load_vapid(settings: Settings | None = None) -> VapidKeys:
    """The VAPID keys and subject of the settings; raises :class:`PushNotConfigured` saying what to set."""
    settings = settings or get_settings()
    if settings.vapid_private_key is not None:
        key = parse_private_key(settings.vapid_private_key.get_secret_value())
    elif settings.env == "development":
        key = _development_key(settings.vapid_key_file)
    else:
        raise PushNotConfigured(f"web push needs a VAPID key with OO_ENV={settings.env}: {KEY_HELP}")
    subject = settings.vapid_subject
    if subject is None:
        if settings.env != "development":
            raise PushNotConfigured(
                f"web push needs OO_VAPID_SUBJECT with OO_ENV={settings.env}: a mailto: address or https: URL where "
                "push services can reach the operator"
            )
        subject = DEV_SUBJECT
    return VapidKeys(private_key=key, public_key=public_key_of(key), subject=subject)
