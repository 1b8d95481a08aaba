"""A stand-in for an Ollama server: a real HTTP server on 127.0.0.1 speaking the part of Ollama's API that LiteLLM
uses (``ollama_chat/`` and ``ollama/`` providers), with answers scripted per test.

It follows Ollama's public API (docs/api.md): ``POST /api/chat`` (one JSON object, or NDJSON chunks when ``stream`` is
true or absent, the last one ``done`` with the token counts), ``POST /api/embed`` (``{"embeddings": [[...], ...]}``,
unit vectors) and the legacy ``POST /api/embeddings``, ``GET /api/tags``, ``POST /api/show``, ``GET /api/version``
and ``GET /``. Errors are ``{"error": "..."}`` with Ollama's status codes: 404 for a model that was not pulled, 400
for a malformed body. Every request is recorded (:attr:`FakeOllama.seen`) so a test can check what a client sent.

What a chat answers is :attr:`FakeOllama.reply`: the assistant's content, or an HTTP error status, after an optional
delay (a model too slow for the client's timeout). Embeddings are deterministic (hashed words), so equal texts get
equal vectors and different texts different ones; :attr:`FakeOllama.embed_reply`, when set, delays them or answers
its error status instead (its content is not used).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import FakeHTTPServer, LoopbackFake, serve_in_background

DEFAULT_MODELS = ("qwen2.5:1.5b", "qwen2.5:7b", "all-minilm")
EMBEDDING_DIMENSIONS = 384  # all-minilm's
CONTEXT_LENGTH = 32768


@dataclass(frozen=True)
class Reply:
    """The answer to every chat until changed: ``content`` with status 200, else ``{"error": error}`` with
    ``status``; both after ``delay_s`` seconds (released early when the server stops)."""

    content: str = ""
    status: int = 200
    error: str = "an error occurred while running the model"
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    """One request the stand-in received."""

    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def tagged(name: str) -> str:
    """Ollama's canonical model name: ``all-minilm`` is ``all-minilm:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic unit vector for ``text``: each lowercased word adds +-1 to one hashed coordinate."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()) or [""]:
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "big") % dimensions
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def count_tokens(text: str) -> int:
    """The stand-in's token count of ``text`` (words and punctuation), what it reports as Ollama's
    ``prompt_eval_count`` and ``eval_count``: not tiktoken's count, so a count taken from it is told apart."""
    return max(1, len(re.findall(r"\w+|[^\w\s]", text)))


def prompt_eval_count(messages: list[Any]) -> int:
    """The ``prompt_eval_count`` the stand-in reports for a chat of ``messages``."""
    return sum(count_tokens(str(m.get("content", ""))) for m in messages if isinstance(m, dict))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked NDJSON streams, as Ollama serves them
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests assert on FakeOllama.seen instead
        return

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _read_body(self) -> dict[str, Any] | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_ndjson(self, lines: Iterable[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in lines:
            data = json.dumps(line).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        body = self._read_body() if method == "POST" else {}
        fake._record(Seen(method, self.path, body or {}, dict(self.headers.items())))
        route = {
            ("GET", "/"): self._root,
            ("HEAD", "/"): self._root,
            ("GET", "/api/version"): self._version,
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/show"): self._show,
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/embed"): self._embed,
            ("POST", "/api/embeddings"): self._embeddings,
        }.get((method, self.path.split("?", 1)[0]))
        try:
            if route is None:
                self._send_text(404, "404 page not found")
            elif body is None:
                self._send_json(400, {"error": "invalid JSON body"})
            else:
                route(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): Ollama would just drop the generation too

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- the API ----------------------------------------------------------------------------------------------

    def _known(self, body: dict[str, Any]) -> str | None:
        """The requested model when it is pulled; else answers 404 (or 400 without a model) and returns None."""
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            self._send_json(400, {"error": "model is required"})
            return None
        if tagged(name) not in self.server.fake.models:
            self._send_json(404, {"error": f'model "{name}" not found, try pulling it first'})
            return None
        return name

    def _root(self, body: dict[str, Any]) -> None:
        self._send_text(200, "Ollama is running")

    def _version(self, body: dict[str, Any]) -> None:
        self._send_json(200, {"version": "0.12.0"})

    def _tags(self, body: dict[str, Any]) -> None:
        models = [
            {
                "name": name,
                "model": name,
                "modified_at": _now(),
                "size": 986_000_000,
                "digest": hashlib.sha256(name.encode()).hexdigest(),
                "details": {"format": "gguf", "family": name.split(":")[0], "quantization_level": "Q4_K_M"},
            }
            for name in sorted(self.server.fake.models)
        ]
        self._send_json(200, {"models": models})

    def _show(self, body: dict[str, Any]) -> None:
        name = self._known(body)
        if name is None:
            return
        family = name.split(":")[0].replace(".", "")
        self._send_json(
            200,
            {
                "modelfile": f"FROM {name}",
                "parameters": 'stop "<|im_end|>"',
                "template": "{{ if .Tools }}tools{{ end }}{{ .Prompt }}",
                "details": {"format": "gguf", "family": family, "quantization_level": "Q4_K_M"},
                "model_info": {"general.architecture": family, f"{family}.context_length": CONTEXT_LENGTH},
                "capabilities": ["embedding"] if "minilm" in name else ["completion", "tools"],
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.server.fake
        name = self._known(body)
        if name is None:
            return
        messages = body.get("messages")
        if not isinstance(messages, list):
            self._send_json(400, {"error": "messages must be a list"})
            return
        reply = fake.reply
        if reply.delay_s:
            fake._stopping.wait(reply.delay_s)
        if reply.status != 200:
            self._send_json(reply.status, {"error": reply.error})
            return
        prompt_tokens = prompt_eval_count(messages)
        stats = {
            "done_reason": "stop",
            "done": True,
            "total_duration": 250_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 100_000_000,
            "eval_count": count_tokens(reply.content),
            "eval_duration": 150_000_000,
        }
        if body.get("stream", True) is False:
            message = {"role": "assistant", "content": reply.content}
            self._send_json(200, {"model": name, "created_at": _now(), "message": message, **stats})
            return
        pieces = re.findall(r"\S+\s*|\s+", reply.content) or [""]
        chunks = [
            {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": piece}, "done": False}
            for piece in pieces
        ]
        final = {"model": name, "created_at": _now(), "message": {"role": "assistant", "content": ""}, **stats}
        self._send_ndjson([*chunks, final])

    def _embed(self, body: dict[str, Any]) -> None:
        name = self._known(body)
        if name is None:
            return
        scripted = self.server.fake.embed_reply
        if scripted is not None:
            if scripted.delay_s:
                self.server.fake._stopping.wait(scripted.delay_s)
            if scripted.status != 200:
                self._send_json(scripted.status, {"error": scripted.error})
                return
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._send_json(400, {"error": "input must be a string or a list of strings"})
            return
        self._send_json(
            200,
            {
                "model": name,
                "embeddings": [embedding(text) for text in texts],
                "total_duration": 14_000_000,
                "load_duration": 1_000_000,
                "prompt_eval_count": sum(count_tokens(text) for text in texts),
            },
        )

    def _embeddings(self, body: dict[str, Any]) -> None:
        name = self._known(body)
        if name is None:
            return
        self._send_json(200, {"embedding": embedding(str(body.get("prompt", "")))})


class FakeOllama(LoopbackFake):
    """A running stand-in of an Ollama server with ``models`` pulled; use it as a context manager.

    ``base_url`` is what LiteLLM's ``api_base`` takes. Set :attr:`reply` to script the chats; :attr:`seen` lists the
    requests in arrival order.
    """

    handler = _Handler
    name = "fake-ollama"

    def __init__(self, models: Iterable[str] = DEFAULT_MODELS) -> None:
        super().__init__()
        self.models = {tagged(name) for name in models}
        self.reply = Reply()
        self.embed_reply: Reply | None = None
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def reset(self, reply: Reply | None = None, embed_reply: Reply | None = None) -> None:
        """Forget the recorded requests and answer ``reply`` (an empty answer by default) to chats from now on, and
        ``embed_reply``'s delay and error (None: embeddings at once) to embeddings."""
        with self._lock:
            self._seen.clear()
        self.reply = reply or Reply()
        self.embed_reply = embed_reply

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def start(self) -> FakeOllama:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        """Stop serving; slow replies still waiting are released at once."""
        self._stopping.set()
        super().stop()


class PinnedOllama(FakeOllama):
    """The Ollama stand-in on a port that survives :meth:`stop`: stopped, clients are refused, as when the server is
    down; started again, it answers on the same address (so a client that did not call meanwhile is seen not to)."""

    def __init__(self) -> None:
        super().__init__()
        self.port = 0

    def start(self) -> PinnedOllama:
        self._stopping.clear()
        self._server = FakeHTTPServer(("127.0.0.1", self.port), self.handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = serve_in_background(self._server, self.name)
        return self

    @property
    def running(self) -> bool:
        return self._server is not None
