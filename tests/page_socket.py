"""The tip page's live connection, spoken from Python as the page's own script speaks it (``.web/utils/state.js``).

:class:`PageSocket` opens Reflex's Socket.IO endpoint ``/_event`` over a websocket with a person's cookies and the
page's client token (the page keeps it in sessionStorage, so a reconnect of the same tab sends the same one), puts the
boot event ``hydrate_and_load`` in the CONNECT packet like the page does (the backend then runs the page's ``on_load``,
``TipState.load``, by itself), answers the server's pings, and merges every delta it receives into :attr:`tip`, the
page's ``TipState`` vars by their Python names. It sends the page's events as its buttons do (``react(reaction,
shown_id)``, ``toggle_why``) and waits until the server has handled them. Blocking and thread-safe; under gevent
(locust) its reader thread is a greenlet. It never retries or reconnects by itself: a failure raises
:class:`PageSocketError` for the caller to count.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import websocket

# Full names of Reflex's states and of the page's events; tests/test_workers.py checks them against the app.
ROOT_STATE = "reflex___state____state"
TIP_STATE = f"{ROOT_STATE}.oo_app___state___tip____tip_state"
HYDRATE_AND_LOAD = f"{ROOT_STATE}.hydrate_and_load"
REACT = f"{TIP_STATE}.react"
TOGGLE_WHY = f"{TIP_STATE}.toggle_why"
VAR_SUFFIX = "_rx_state_"  # Reflex's suffix of a state var's name in a delta
HYDRATED = f"is_hydrated{VAR_SUFFIX}"  # the root state's flag: the page's on_load handlers have all run
NAMESPACE = "/_event"
DEFAULT_TIMEOUT_S = 30.0

State = dict[str, Any]


class PageSocketError(Exception):
    """The live connection failed: refused, closed, or no answer in time. The message says which, and what was seen."""


def new_client_token() -> str:
    """A fresh page token, as the page makes one for a new tab."""
    return str(uuid4())


class PageSocket:
    """One open tip page of one person, connected to the server at ``base`` (``http://host:port``).

    :attr:`tip` holds ``TipState``'s vars as last received (``tip_id``, ``text``, ``show_why``, ``busy``, ...);
    :attr:`restored` holds them as the first delta of the connection brought them: the hydrate's snapshot of the state
    the server kept for this token, before the page's ``on_load`` ran. :attr:`client_token` changes if the server
    says the token is taken (``new_token``), as the page's script accepts it too; :attr:`new_tokens` counts that.
    """

    def __init__(
        self,
        base: str,
        cookies: Mapping[str, str],
        client_token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        origin: str | None = None,
    ) -> None:
        self.base = base.rstrip("/")
        # The handshake's Origin header: the page's own (``base``) unless given; "" sends none (no browser does that).
        self.origin = self.base if origin is None else origin
        self.cookies = dict(cookies)
        self.client_token = client_token or new_client_token()
        self.timeout_s = timeout_s
        self.tip: State = {}
        self.hydrated = False
        self.restored: State = {}
        self.new_tokens = 0
        self.sid: str | None = None
        self.updates = 0  # deltas received so far
        self.busy_cycles = 0  # times the page went busy (a reaction being handled) and back
        self._changed = threading.Condition()
        self._ws: websocket.WebSocket | None = None
        self._reader: threading.Thread | None = None
        self._closed_reason: str | None = None
        self._first_delta = True
        self._send_lock = threading.Lock()

    # --- connection ------------------------------------------------------------------------------------------------

    def connect(self) -> State:
        """Opens the page: connects, hydrates, and waits until the page's ``on_load`` (``TipState.load``) has run: the
        root state is hydrated again and the page ``checked`` (a tip, an error, or the sign-in view). Returns
        :attr:`tip`."""
        url = (
            self.base.replace("http", "ws", 1)
            + "/_event/?"
            + urlencode({"EIO": "4", "transport": "websocket", "token": self.client_token})
        )
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        try:
            self._ws = websocket.create_connection(
                url,
                timeout=self.timeout_s,
                header=[f"Cookie: {cookie}"],
                origin=self.origin or None,
                suppress_origin=not self.origin,
                enable_multithread=True,
            )
            opened = self._ws.recv()
        except (OSError, websocket.WebSocketException) as error:
            raise PageSocketError(f"websocket to {url} failed: {type(error).__name__}: {error}") from error
        if not isinstance(opened, str) or not opened.startswith("0"):
            raise PageSocketError(f"expected the Engine.IO open packet, got {opened!r:.200}")
        self._ws.settimeout(None)  # the reader blocks; waits below have their own deadlines
        with self._changed:
            self._closed_reason = None
            self.sid, self.hydrated, self.restored, self._first_delta = None, False, {}, True
        self._reader = threading.Thread(target=self._read, name=f"page-socket-{self.client_token[:8]}", daemon=True)
        self._reader.start()
        boot = {"name": HYDRATE_AND_LOAD, "payload": {}, "router_data": {"pathname": "/", "asPath": "/"}}
        self._send(f"40{NAMESPACE},{json.dumps({'event': boot})}")
        self.wait_for(
            lambda: self.sid is not None and self.hydrated and self.tip.get("checked") is True, "the page's load"
        )
        return self.tip

    @property
    def local_port(self) -> int | None:
        """The client's end of the connection (to find the server process that accepted it), while connected."""
        sock = self._ws.sock if self._ws is not None else None
        return sock.getsockname()[1] if sock is not None else None

    def close(self) -> None:
        """Leaves the page as a closing tab does: a Socket.IO disconnect, then the websocket closes."""
        if self._ws is None:
            return
        with contextlib.suppress(PageSocketError):  # the server may have closed it already
            self._send(f"41{NAMESPACE},")
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self._ws.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._ws = None

    def __enter__(self) -> PageSocket:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the page's events -----------------------------------------------------------------------------------------

    def react(self, reaction: str) -> State:
        """Presses a reaction under the current tip, as the page's buttons do (the click names the tip it shows), and
        waits until the server has handled it: the page went busy and came back (a new tip, or the page's error).
        Returns :attr:`tip`. Raises when no answer comes: the server dropped or lost the click."""
        shown = self.tip.get("tip_id")
        if not shown or self.tip.get("busy"):
            raise PageSocketError(f"no tip to react to (tip_id={shown!r}, busy={self.tip.get('busy')!r})")
        handled = self.busy_cycles
        self.send_event(REACT, {"reaction": reaction, "shown_id": shown})
        self.wait_for(lambda: self.busy_cycles > handled, f"the answer to {reaction!r} on tip {shown}")
        return self.tip

    def toggle_why(self) -> State:
        """Opens or closes "why this tip?" and waits for the page to show it."""
        wanted = not self.tip.get("show_why", False)
        self.send_event(TOGGLE_WHY, {})
        self.wait_for(lambda: self.tip.get("show_why") is wanted, "the why panel to toggle")
        return self.tip

    def send_event(self, name: str, payload: dict[str, Any]) -> None:
        event = {"name": name, "payload": payload, "router_data": {"pathname": "/", "asPath": "/"}}
        self._send(f"42{NAMESPACE},{json.dumps(['event', event])}")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float | None = None) -> None:
        """Blocks until ``condition()`` holds after some delta; raises with what the page holds when it does not in
        ``timeout_s`` (the socket's timeout by default) or when the connection closes first."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        with self._changed:
            while not condition():
                if self._closed_reason is not None:
                    raise PageSocketError(f"connection closed while waiting for {what}: {self._closed_reason}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PageSocketError(
                        f"no {what} within {timeout_s or self.timeout_s:g} s; the page holds {_summary(self.tip)}"
                    )
                self._changed.wait(left)

    # --- protocol --------------------------------------------------------------------------------------------------

    def _send(self, packet: str) -> None:
        if self._ws is None:
            raise PageSocketError("not connected")
        try:
            with self._send_lock:
                self._ws.send(packet)
        except (OSError, websocket.WebSocketException) as error:
            raise PageSocketError(f"send failed: {type(error).__name__}: {error}") from error

    def _read(self) -> None:
        reason = "closed by the server"
        try:
            while True:
                message = self._ws.recv() if self._ws is not None else ""
                if not message:
                    break
                if message == "2":  # Engine.IO ping: answer at once, as the page's transport does
                    self._send("3")
                elif message.startswith("4"):
                    self._socketio(message[1:])
        except (OSError, websocket.WebSocketException, PageSocketError) as error:
            reason = f"{type(error).__name__}: {error}"
        finally:
            with self._changed:
                self._closed_reason = reason
                self._changed.notify_all()

    def _socketio(self, packet: str) -> None:
        kind, rest = packet[0], packet[1:]
        if rest.startswith(NAMESPACE):
            rest = rest[len(NAMESPACE) :].removeprefix(",")
        if kind == "0":
            with self._changed:
                self.sid = json.loads(rest).get("sid")
                self._changed.notify_all()
        elif kind == "4":
            raise PageSocketError(f"connection refused: {rest:.300}")
        elif kind == "1":
            raise PageSocketError("disconnected by the server")
        elif kind == "2":
            name, *args = json.loads(rest)
            self._on(name, args[0] if args else None)

    def _on(self, name: str, data: Any) -> None:
        with self._changed:
            if name == "event" and isinstance(data, dict):
                delta = data.get("delta") or {}
                tip = {var.removesuffix(VAR_SUFFIX): value for var, value in delta.get(TIP_STATE, {}).items()}
                if self.tip.get("busy") and tip.get("busy") is False:
                    self.busy_cycles += 1
                self.tip.update(tip)
                self.hydrated = bool(delta.get(ROOT_STATE, {}).get(HYDRATED, self.hydrated))
                if self._first_delta:
                    self.restored, self._first_delta = tip, False
                self.updates += 1
            elif name == "new_token" and isinstance(data, str):
                self.client_token = data
                self.new_tokens += 1
            self._changed.notify_all()


def _summary(tip: State) -> str:
    keys = ("tip_id", "checked", "signed_in", "busy", "error", "show_why")
    return json.dumps({key: tip.get(key) for key in keys})
