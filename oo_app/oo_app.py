"""The oO app: the Reflex pages, the HTTP API mounted beside them, and the in-process task engine as lifespan tasks.

The API is wrapped with the session Authlib keeps a sign-in flow in (:func:`oo_app.auth.oidc.with_login_state`), and
everything the backend answers (the page too, served on one port) with the Host check
(:func:`oo_app.auth.hosts.with_trusted_hosts`) and the security headers (:mod:`oo_app.security_headers`).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

import reflex as rx
from reflex.utils.prerequisites import get_web_dir
from reflex_base import constants
from reflex_base.config import get_config

from oo_app import pwa
from oo_app.api import api
from oo_app.auth.hosts import with_trusted_hosts
from oo_app.auth.oidc import with_login_state
from oo_app.auth.websocket_origin import with_websocket_origin_check
from oo_app.bootstrap import bootstrap
from oo_app.components.style import BACKGROUND
from oo_app.first_paint import with_due_tip_page
from oo_app.ops.logs import configure_logging
from oo_app.ops.memory import freeze_start_up, limit_malloc_arenas, memory_release_loop, release_free_memory
from oo_app.pages.index import index
from oo_app.pages.settings import settings
from oo_app.security_headers import with_security_headers
from oo_app.settings import get_settings
from oo_app.state.first_run import FirstRunState
from oo_app.state.settings import SettingsState
from oo_app.state.tip import TipState
from oo_app.tasks.domains import LIFESPAN_TASKS

limit_malloc_arenas()  # before the request threads start: they share two arenas
configure_logging()  # once per backend process, before anything of the app logs
bootstrap()
log = logging.getLogger(__name__)


def _prepare_tracking() -> None:
    """Opens the MLflow store and registers the repo's prompt versions; tracing failures never stop the app."""
    from oo_app import tracking
    from oo_app.recommender import prompt_registry

    try:
        tracking.configure()
        prompt_registry.register_prompts()
    except Exception:
        log.exception("MLflow is unavailable; tips are served untraced")


async def warm_llm() -> None:
    """Builds the LiteLLM router and loads the local models the aliases use (in this process, or in the host's model
    process when ``OO_MODEL_SERVER_URL`` names one), off the event loop, so the first tip does not pay for them."""
    from oo_app.llm import local
    from oo_app.llm.aliases import LOCAL_EMBEDDING_MODEL, LOCAL_TIP_MODEL
    from oo_app.llm.router import get_router

    await asyncio.to_thread(get_router)
    if get_settings().tracing_enabled:
        await asyncio.to_thread(_prepare_tracking)
    aliases = get_settings().alias_table
    tip_writer = LOCAL_TIP_MODEL in {d["model"] for d in aliases.get("tip-generator", [])}
    embedder = LOCAL_EMBEDDING_MODEL in {d["model"] for d in aliases.get("embedder", [])}
    try:
        # The near-duplicate guard's first check would pay for the encoder.
        await asyncio.to_thread(local.warm, tip_writer, embedder)
    except local.ModelServerUnavailable as error:
        log.warning("the local models are not warm: %s", error)


async def warm_up() -> None:
    """A worker's start: the LLM warmed (:func:`warm_llm`), then what start-up built kept out of the collector's full
    passes (:func:`oo_app.ops.memory.freeze_start_up`), and the C heap's free pages given back."""
    await warm_llm()
    frozen = await asyncio.to_thread(freeze_start_up)
    log.info("start-up's %d objects are out of the collector's full passes", frozen)
    # The warm-up's imports freed much of what they allocated (LiteLLM's cost map, for one): back to the host.
    await asyncio.to_thread(release_free_memory)


def built_pages() -> Path:
    """Where ``reflex run --env prod`` serves the page from (as ``reflex.utils.exec.get_frontend_mount`` finds it):
    the CSP allows the inline scripts of these files."""
    return get_web_dir() / constants.Dirs.STATIC / get_config().frontend_path.strip("/")


app = rx.App(
    # Outermost last: a request to a name not ours is refused before anything else runs (the security headers still
    # wrap that refusal and every other response, the page's static files included).
    # The page's websocket opens only from a trusted origin (oo_app.auth.websocket_origin).
    api_transformer=[
        api,
        # GET / for a signed-in person: the built page with their due tip in it (the first paint shows it).
        partial(with_due_tip_page, pages=built_pages()),
        with_login_state,
        with_websocket_origin_check,
        with_trusted_hosts,
        partial(with_security_headers, pages=built_pages()),
    ],
    head_components=pwa.head_components(),
    style={"background": BACKGROUND},
)
# One quiet line instead of Reflex's connection toasts (which name the backend's URL) while the connection is down.
app.app_wraps[5, "Overlay"] = lambda stateful: pwa.connection_notice() if stateful else None
app.add_page(
    index, route="/", title="oO", description="One well-timed tip.", on_load=[FirstRunState.open, TipState.load]
)
app.add_page(settings, route="/settings", title="oO · settings", on_load=SettingsState.load)
for lifespan_task in LIFESPAN_TASKS:  # every domain with jobs (each off unless the in-process engine runs)
    app.register_lifespan_task(lifespan_task)
app.register_lifespan_task(warm_up)
app.register_lifespan_task(memory_release_loop)
