"""The local models once per host: ``oo models serve`` holds Gemma 3 270M and the sentence encoder in one process and
answers every worker of the machine over HTTP, in the shape of OpenAI's API (``POST /v1/completions``,
``POST /v1/embeddings``), so two workers cost one copy of each model (docs/adr/0013-local-models-once-per-host.md).

Contract: an answer is exactly what the same call gives in-process (the same functions of :mod:`oo_app.llm.local`
compute it, each model loaded on its first request); ``GET /health`` says which models are loaded. A malformed request
is a 400, an unknown model a 404, a body over 1 MiB a 413, each as OpenAI's ``{"error": {"message", "type", "code"}}``.
It has no authentication, so it never listens beyond loopback unless told to (:func:`check_bind`), and it never logs
what it is asked (prompts carry a person's facts).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from oo_app.body_limits import bounded_route
from oo_app.llm import local
from oo_app.loopback import is_loopback

MAX_BODY_BYTES = 1024 * 1024
MAX_TEXTS = 1024  # texts in one embeddings request
MAX_TEXT_CHARS = 8192
MAX_PROMPT_CHARS = 32_000  # the context holds 2048 tokens; a longer prompt is refused by llama.cpp anyway
MODELS = (local.TIP_MODEL, local.EMBEDDING_MODEL)


class NotLoopback(ValueError):
    """A bind beyond this machine was asked for without saying so."""


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse ``host`` beyond loopback unless ``allow_remote``: anyone who reaches the server may use its models."""
    if not is_loopback(host) and not allow_remote:
        raise NotLoopback(
            f"{host} is not a loopback address, and the model server has no authentication: it serves on 127.0.0.1 "
            "unless you pass --allow-remote (inside a private network only, e.g. compose's)"
        )


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields these models do not use (user, n=1, ...)

    model: str


class EmbeddingsRequest(_Request):
    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)]
    encoding_format: Literal["float"] = "float"


class CompletionRequest(_Request):
    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    max_tokens: Annotated[int, Field(ge=1, le=512)] = 16
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: Literal[False] = False


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


def _known(model: str, wanted: str) -> None:
    if model != wanted:
        which = "an embedding" if wanted == local.EMBEDDING_MODEL else "a completion"
        raise HTTPException(404, f"no {which} model {model!r} here; this server has {wanted!r}")


routes = APIRouter(route_class=bounded_route(MAX_BODY_BYTES))


@routes.get("/health")
def health() -> dict[str, Any]:
    """Up, and which models are loaded (each loads on its first request)."""
    loaded = {
        local.TIP_MODEL: bool(local.local_llama.cache_info().currsize),
        local.EMBEDDING_MODEL: local.sentence_encoder_loaded(),
    }
    return {"status": "ok", "models": {name: "loaded" if up else "not loaded yet" for name, up in loaded.items()}}


@routes.get("/v1/models")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "oo"} for name in MODELS]}


@routes.post("/v1/embeddings")
def embeddings(request: EmbeddingsRequest) -> dict[str, Any]:
    _known(request.model, local.EMBEDDING_MODEL)
    texts = [request.input] if isinstance(request.input, str) else request.input
    vectors = local.encode_here(texts)
    return {
        "object": "list",
        "model": request.model,
        "data": [{"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)],
        "usage": {"prompt_tokens": 0, "total_tokens": 0},  # as the in-process provider reports: not counted
    }


@routes.post("/v1/completions")
def completions(request: CompletionRequest) -> dict[str, Any]:
    _known(request.model, local.TIP_MODEL)
    sampling = {"max_tokens": request.max_tokens, "temperature": request.temperature, "top_p": request.top_p}
    try:
        out = local.complete_here(request.prompt, request.seed, stop=request.stop or [], **sampling)
    except ValueError as error:  # llama.cpp: a prompt past the context window
        raise HTTPException(400, str(error)) from None
    return {**out, "model": request.model, "created": int(time.time())}


def create_app() -> FastAPI:
    app = FastAPI(title="oO local models", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(routes)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        return _error(400, f"invalid request: {problems}")

    @app.exception_handler(HTTPException)
    async def refused(_request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "model_not_found", 413: "request_too_large"}.get(error.status_code)
        return _error(error.status_code, str(error.detail), code=code)

    return app


def serve(host: str, port: int, preload: bool = True) -> None:
    """Serve the models on ``host:port`` until SIGINT or SIGTERM (one process: the models are loaded once).

    With ``preload`` both models load before the port opens, so an answering ``/health`` means loaded: the workers
    that start beside it (``./scripts/dev``, compose's ``depends_on: service_healthy``) never send a first request
    into a load that outlasts their timeout (the encoder takes ~14 s on a busy two-core host)."""
    import uvicorn

    if preload:
        local.local_llama()
        local.local_sentence_encoder()

    uvicorn.run(create_app(), host=host, port=port, workers=1, access_log=False, log_level="warning")
