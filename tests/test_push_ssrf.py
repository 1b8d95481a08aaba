"""The push endpoint guard: an IPv4 address wrapped in IPv6 is judged as itself, and a send connects to the address the
check approved, never to a second DNS answer (rebinding), with TLS still verified against the host name.

Real push services on loopback (plain and HTTPS) and a real sender; the one stand-in is the resolver
(``socket.getaddrinfo``, the boundary both the check and the HTTP client resolve through), since public DNS cannot be
reached from a test and rebinding needs a name whose answer changes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlmodel import Session, select

from oo_app.models import PushSubscription, User
from oo_app.profile.consents import grant_consent
from oo_app.push.endpoints import approve_endpoint, is_public
from oo_app.push.errors import EndpointRefused
from oo_app.push.keys import VapidKeys, generate_private_key, public_key_of
from oo_app.push.sender import WebPushSender
from oo_app.push.subscriptions import PUSH_CONSENT
from tests.conftest import NOW
from tests.fakes.push_service import Browser, FakePushService
from tests.test_profile_helpers import signed_in

INSIDE = {"loopback": "127.0.0.1", "private": "10.1.2.3", "metadata": "169.254.169.254"}
WRAPPERS = {
    "mapped": lambda v4: f"::ffff:{v4}",
    "translated": lambda v4: f"::ffff:0:{v4}",
    "compatible": lambda v4: f"::{v4}",
    "nat64": lambda v4: f"64:ff9b::{v4}",
    "local-nat64": lambda v4: f"64:ff9b:1::{v4}",
    "6to4": lambda v4: "2002:{:02x}{:02x}:{:02x}{:02x}::1".format(*map(int, v4.split("."))),
}
PUBLIC_V4 = "93.184.216.34"
KEYS_KEY = generate_private_key()
KEYS = VapidKeys(private_key=KEYS_KEY, public_key=public_key_of(KEYS_KEY), subject="mailto:ops@example.com")


# --- the check ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", INSIDE.values(), ids=INSIDE.keys())
@pytest.mark.parametrize("wrapper", WRAPPERS.values(), ids=WRAPPERS.keys())
def test_an_ipv4_address_inside_ipv6_that_reaches_inside_is_refused(wrapper: Callable[[str], str], target: str) -> None:
    address = wrapper(target)

    assert not is_public(address), address
    with pytest.raises(EndpointRefused, match="private, loopback or link-local"):
        approve_endpoint(f"https://[{address}]/push/1", allow_private=False)


@pytest.mark.parametrize("form", [name for name in WRAPPERS if name != "local-nat64"])
def test_a_public_ipv4_address_inside_ipv6_passes(form: str) -> None:
    address = WRAPPERS[form](PUBLIC_V4)

    assert is_public(address), address
    approved = approve_endpoint(f"https://[{address}]/push/1", allow_private=False).addresses
    assert [ipaddress.ip_address(a) for a in approved] == [ipaddress.ip_address(address)]


def test_plain_public_ipv6_passes_and_teredo_does_not() -> None:
    assert is_public("2606:4700::1111")
    assert not is_public("2001:0:4136:e378:8000:63bf:3fff:fdd2"), "Teredo hides its client's address"


# --- a resolver the test controls ------------------------------------------------------------------------------------


class ScriptedDNS:
    """``socket.getaddrinfo`` answering the test's host names from a script (each lookup takes the next answer, the
    last one repeats) and resolving every other name (and every literal address) for real."""

    def __init__(self, real: Callable[..., list]) -> None:
        self._real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self._real(host, port, family, type, proto, flags)
        script = self.answers[name]
        answer = script[min(self.lookups.count(name), len(script) - 1)]
        self.lookups.append(name)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, int(port), 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))
            for address in answer
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> ScriptedDNS:
    resolver = ScriptedDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


class NamedPushService(FakePushService):
    """The loopback push service, listening at ``address`` and reached by the name ``host`` (the endpoints it hands
    out, and the VAPID audience it expects, use the name)."""

    def __init__(self, host: str, address: tuple[str, int], tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.host, self.address, self.tls = host, address, tls

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"{'https' if self.tls else 'http'}://{self.host}:{self._server.server_address[1]}"


def _free_port_on_both(*hosts: str) -> int:
    """A port free on every loopback address of ``hosts`` (bound on the first, then checked on the others)."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
            try:
                for host in hosts[1:]:
                    with socket.socket() as other:
                        other.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free on all of {hosts}")


def _subscription(browser: Browser) -> PushSubscription:
    keys = browser.to_json()["keys"]
    return PushSubscription(user_id=1, endpoint=browser.endpoint, p256dh=keys["p256dh"], auth=keys["auth"])


def _send(browser: Browser, *, allow_private: bool, timeout_s: float = 5.0) -> Any:
    sender = WebPushSender(KEYS, timeout_s=timeout_s, allow_private=allow_private)
    try:
        return sender.send(_subscription(browser), '{"tip": "Rest now."}', ttl=60)
    finally:
        sender.close()


# --- rebinding ------------------------------------------------------------------------------------------------------


def test_a_send_connects_to_the_checked_address_not_to_a_second_answer(dns: ScriptedDNS) -> None:
    port = _free_port_on_both("127.0.0.1", "127.0.0.2")
    with (
        NamedPushService("push.test", ("127.0.0.1", port)) as checked,
        NamedPushService("push.test", ("127.0.0.2", port)) as rebound,
    ):
        dns.answers["push.test"] = [["127.0.0.1"], ["127.0.0.2"]]
        browser = checked.subscribe(KEYS.public_key)
        rebound.subscriptions[browser.id] = KEYS.public_key

        result = _send(browser, allow_private=True)

        assert result.ok, result
        assert [request.headers["host"] for request in checked.delivered] == [f"push.test:{port}"]
        assert rebound.requests == [], "the send went to the address of a second resolution"
    assert dns.lookups == ["push.test"], "the host is resolved once, by the check"


class Listener:
    """A TCP port on loopback that counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


def test_in_production_a_name_rebound_to_loopback_after_the_check_is_never_reached(dns: ScriptedDNS) -> None:
    listener = Listener()
    try:
        dns.answers["push.example"] = [[PUBLIC_V4], ["127.0.0.1"]]
        browser = Browser.new(f"https://push.example:{listener.port}/push/abc")

        result = _send(browser, allow_private=False, timeout_s=1.0)

        assert not result.ok, result
        assert listener.accepted == 0, "the send connected to loopback after the check approved a public address"
        assert dns.lookups == ["push.example"], "the host is resolved once, by the check"
    finally:
        listener.close()


@pytest.mark.parametrize("target", INSIDE.values(), ids=INSIDE.keys())
def test_in_production_a_name_whose_aaaa_wraps_an_inside_address_is_not_sent_to(dns: ScriptedDNS, target: str) -> None:
    dns.answers["push.example"] = [[PUBLIC_V4, f"64:ff9b::{target}"]]
    browser = Browser.new("https://push.example/push/abc")

    result = _send(browser, allow_private=False)

    assert not result.ok
    assert "refused" in (result.error or ""), result


def test_subscribing_an_ipv6_wrapped_inside_address_is_a_422_in_production(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_PUSH_ALLOW_PRIVATE_ENDPOINTS="false")
    grant_consent(session, demo_user, PUSH_CONSENT, NOW)
    session.commit()
    body = Browser.new("https://x/push/1").to_json()
    with signed_in(demo_user) as client:
        answers = [
            client.post("/api/push/subscriptions", json=body | {"endpoint": f"https://[{wrap(v4)}]/push/1"})
            for wrap in WRAPPERS.values()
            for v4 in INSIDE.values()
        ]

    assert {answer.status_code for answer in answers} == {422}, [answer.text for answer in answers]
    assert "endpoint" in answers[0].json()["error"]
    assert session.exec(select(PushSubscription)).all() == []


# --- TLS still verifies the host name -------------------------------------------------------------------------------


def _certificate_authority(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, Path]:
    """A server context whose certificate names ``host`` only, and the file of the CA that signed it."""
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oO test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, chain_file, key_file = tmp_path / "ca.pem", tmp_path / "leaf.pem", tmp_path / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain_file, key_file)
    return context, ca_file


@pytest.fixture
def trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ssl.SSLContext]:
    """``trusted_ca(host)``: a server TLS context for ``host`` whose CA the sender trusts (``REQUESTS_CA_BUNDLE``)."""

    def make(host: str) -> ssl.SSLContext:
        context, ca_file = _certificate_authority(tmp_path, host)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        return context

    return make


def test_an_https_send_to_the_checked_address_verifies_the_host_name(
    dns: ScriptedDNS, trusted_ca: Callable[[str], ssl.SSLContext]
) -> None:
    dns.answers["push.test"] = [["127.0.0.1"]]
    with NamedPushService("push.test", ("127.0.0.1", 0), tls=trusted_ca("push.test")) as service:
        browser = service.subscribe(KEYS.public_key)
        result = _send(browser, allow_private=True)

    assert result.ok, result
    assert [request.headers["host"] for request in service.delivered] == [browser.endpoint.split("/")[2]]


def test_an_https_send_refuses_a_certificate_for_another_name(
    dns: ScriptedDNS, trusted_ca: Callable[[str], ssl.SSLContext]
) -> None:
    dns.answers["push.test"] = [["127.0.0.1"]]
    with NamedPushService("push.test", ("127.0.0.1", 0), tls=trusted_ca("other.test")) as service:
        result = _send(service.subscribe(KEYS.public_key), allow_private=True)

    assert not result.ok
    assert "SSLError" in (result.error or ""), result
    assert service.requests == []
