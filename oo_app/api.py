"""HTTP routes (FastAPI, mounted into Reflex through ``api_transformer``): thin adapters over the domain.

Every error leaves as JSON with a 4xx status and a message a person can act on; while the database does not answer,
a 503 that says to try again; an unexpected failure is a 500 with a generic message (logged here, never a stack trace
to the client).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from oo_app.admin import routes as admin_routes
from oo_app.auth import routes as auth_routes
from oo_app.auth.csrf import check_origin
from oo_app.calendar import google_routes as google_calendar_routes
from oo_app.calendar import routes as calendar_routes
from oo_app.db import is_unavailable
from oo_app.deps import CsrfDep, SessionDep, UserDep, current_user
from oo_app.errors import OOError, TooManyRequests
from oo_app.first_paint import due_tip
from oo_app.health import describe, health_report
from oo_app.integrations import routes as integration_routes
from oo_app.models import Reaction, Tip
from oo_app.ops.logs import with_request_ids
from oo_app.ops.metrics import scrape_refusal, scrape_registry
from oo_app.profile import routes as profile_routes
from oo_app.push import routes as push_routes
from oo_app.recommender import mark_shown, next_tip, react
from oo_app.recommender.limits import metered
from oo_app.recommender.on_request import requested_tip
from oo_app.recommender.reasons import Why, why_this_tip
from oo_app.security_headers import script_hashes
from oo_app.settings import get_settings

log = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "oO cannot reach its database right now; nothing was changed, try again in a moment"


class WhyOut(BaseModel):
    """The answer to "why this tip?" in plain words (:mod:`oo_app.recommender.reasons`)."""

    because: str = Field(description="the facts behind the tip, in a sentence")
    learned: str = Field(description="what oO learned about tips like it (empty until it can say)")
    written_by: str = Field(description="who wrote the tip")

    @classmethod
    def of(cls, why: Why) -> WhyOut:
        return cls(because=why.because, learned=why.learned, written_by=why.written_by)


class TipOut(BaseModel):
    id: int
    text: str
    kind: str
    agents: list[str]
    model: str
    policy: str
    created_at: datetime
    why: WhyOut | None = None

    @classmethod
    def of(cls, tip: Tip, why: Why | None = None) -> TipOut:
        return cls(
            id=tip.id,
            text=tip.text,
            kind=tip.kind,
            agents=tip.agent_ids,
            model=tip.model,
            policy=tip.policy,
            created_at=tip.created_at,
            why=WhyOut.of(why) if why is not None else None,
        )


class TipEnvelope(BaseModel):
    tip: TipOut


class ReactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Inline in the schema (no separate component), as when the values were spelled here.
    reaction: Annotated[
        Reaction, WithJsonSchema({"type": "string", "enum": [r.value for r in Reaction], "title": "Reaction"})
    ]


class ReactionOut(BaseModel):
    reacted: TipOut
    next: TipOut


class ErrorOut(BaseModel):
    error: str
    detail: Any = None


def tip_body(tip: Tip, why: Why | None = None) -> dict[str, Any]:
    """The ``{"tip": {...}}`` body shared by the API and the CLI; with ``why``, its answer to "why this tip?"."""
    return TipEnvelope(tip=TipOut.of(tip, why)).model_dump(mode="json")


# A person's tip is theirs alone: no browser cache, no shared cache, no service worker may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}
TipId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a tip's id")]
ERRORS = {code: {"model": ErrorOut} for code in (404, 409, 422)}
LIMITED = {429: {"model": ErrorOut, "description": "past the person's tip limit: nothing changed; see Retry-After"}}

# The docs and the schema are routes of their own (below), so OO_API_DOCS can switch them off in production.
api = FastAPI(title="oO", version="0.1.0", docs_url=None, openapi_url=None, redoc_url=None)
api.include_router(auth_routes.router)
api.include_router(admin_routes.router)
api.include_router(integration_routes.router)
api.include_router(calendar_routes.router)
api.include_router(google_calendar_routes.router)
api.include_router(profile_routes.router)
api.include_router(push_routes.router)


@api.exception_handler(OOError)
async def _domain_error(_request: Request, error: OOError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, TooManyRequests) else None
    return JSONResponse({"error": str(error)}, status_code=error.status_code, headers=headers)


@api.exception_handler(RequestValidationError)
async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in error.errors()]
    return JSONResponse({"error": "invalid request", "detail": detail}, status_code=422)


@api.exception_handler(StarletteHTTPException)
async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)


@api.exception_handler(Exception)
async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal error; it has been logged"}, status_code=500)


@api.exception_handler(SQLAlchemyError)
async def _database_error(request: Request, error: SQLAlchemyError) -> JSONResponse:
    """503 while the database does not answer: the request changed nothing (its transaction rolled back) and may be
    retried; any other database error is unexpected (500)."""
    if not is_unavailable(error):
        return await _unexpected(request, error)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, describe(error))
    return JSONResponse({"error": DATABASE_UNAVAILABLE}, status_code=503, headers={"Retry-After": "5"})


# Outermost: every request, its log lines and its response (a 500 too) carry an X-Request-ID.
with_request_ids(api)


OPENAPI_PATH = "/api/openapi.json"
# Swagger UI's own page loads its script and style from a CDN and runs one inline script: its CSP says so.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net {scripts}; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def _docs_enabled() -> None:
    if not get_settings().api_docs_enabled:
        raise StarletteHTTPException(404, "Not Found")


@api.get(OPENAPI_PATH, include_in_schema=False)
def openapi_schema() -> JSONResponse:
    """The OpenAPI schema, where the docs are on (``OO_API_DOCS``; by default everywhere but in production)."""
    _docs_enabled()
    return JSONResponse(api.openapi())


@api.get("/api/docs", include_in_schema=False)
def api_docs() -> HTMLResponse:
    """Swagger UI over :func:`openapi_schema`, where the docs are on."""
    _docs_enabled()
    page = get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="oO API")
    scripts = " ".join(script_hashes(page.body.decode()))
    page.headers["Content-Security-Policy"] = DOCS_POLICY.format(scripts=scripts)
    return page


@api.get("/health", tags=["ops"])
def health() -> JSONResponse:
    """Each dependency's status and latency (:mod:`oo_app.health`); 503 only when the database is down."""
    report = health_report()
    return JSONResponse(report, status_code=503 if report["status"] == "error" else 200)


@api.get("/metrics", tags=["ops"], include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format (:mod:`oo_app.ops.metrics`), for the bearer of OO_METRICS_TOKEN (else loopback)."""
    refusal = scrape_refusal(get_settings(), request.headers.get("authorization"), request.client)
    if refusal is not None:
        status, message = refusal
        headers = {"WWW-Authenticate": 'Bearer realm="metrics"'} if status == 401 else None
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)


@api.post(
    "/api/recommend", response_model=TipEnvelope, tags=["tips"], responses=ERRORS | LIMITED, dependencies=[CsrfDep]
)
def post_recommend(session: SessionDep, user: UserDep) -> dict[str, Any]:
    """The person's next tip; asked again within ``OO_TIP_REPEAT_WINDOW_S``, the same unanswered tip."""
    tip = mark_shown(session, requested_tip(session, user))
    return tip_body(tip, why_this_tip(session, tip))


@api.get(
    "/api/tips/due",
    response_model=TipEnvelope,
    tags=["tips"],
    responses={
        204: {"description": "no tip is due: the first-run question comes first, or the tip limit is reached"},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
    },
)
def get_due_tip(request: Request, session: SessionDep) -> Response:
    """The tip the person's page shows now, marked shown as the page marks it (the page paints it before its live
    connection opens; the live state then finds this same tip): a new one is written only when the page would write
    it. Every answer is ``Cache-Control: no-store``; 401 without a session, 403 to another site's request."""
    try:
        check_origin(request)
        user = current_user(request, session)
    except OOError as error:
        return JSONResponse({"error": str(error)}, status_code=error.status_code, headers=NO_STORE)
    tip = due_tip(session, user)
    if tip is None:
        return Response(status_code=204, headers=NO_STORE)
    return JSONResponse(tip_body(tip), headers=NO_STORE)


@api.post(
    "/api/tips/{tip_id}/reaction",
    response_model=ReactionOut,
    tags=["tips"],
    responses=ERRORS | LIMITED,
    dependencies=[CsrfDep],
)
def post_reaction(tip_id: TipId, body: ReactionIn, session: SessionDep, user: UserDep) -> dict[str, Any]:
    """Answer the tip; the next one comes with it. Past the person's tip limit a 429 and the reaction is not
    recorded (send it again after Retry-After)."""
    reacted = react(session, user, tip_id, body.reaction)
    with metered():
        following = mark_shown(session, next_tip(session, user, reacted))
    following_out = TipOut.of(following, why_this_tip(session, following))
    return ReactionOut(reacted=TipOut.of(reacted), next=following_out).model_dump(mode="json")
