"""Addresses of the backend's FastAPI routes as the browser reaches them, for links and forms that leave the page.

The backend's origin differs from the page's under ``reflex run --env dev``, so a URL is a JS expression built in
the browser, never a literal. Such links need ``reload_document`` (a full page load, not the client router).
"""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.vars import VarData


def backend_url(path: str) -> rx.Var[str]:
    """``path`` on the backend that serves the FastAPI routes, as the browser reaches it (a JS expression)."""
    return rx.Var(
        _js_expr=f"getBackendURL(env.PING).origin + {json.dumps(path)}",
        _var_data=VarData(
            imports={
                "$/utils/state": "getBackendURL",
                "$/env.json": rx.ImportVar(tag="env", is_default=True),
            }
        ),
    ).to(str)
