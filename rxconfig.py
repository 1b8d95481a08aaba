"""Reflex configuration, built from oO's settings (ports, telemetry off); the database is oO's own (oo_app.db)."""

import reflex as rx
from pydantic import ValidationError
from reflex.plugins.sitemap import SitemapPlugin

from oo_app.settings import get_settings, settings_problem

try:
    _settings = get_settings()
except ValidationError as error:  # `reflex run` starts here: a message to act on, not a traceback
    raise SystemExit(settings_problem(error)) from None

config = rx.Config(
    app_name="oo_app",
    frontend_port=_settings.frontend_port,
    backend_port=_settings.backend_port,
    backend_host="127.0.0.1",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    default_color_mode="dark",
    disable_plugins=[SitemapPlugin],
    # Only the app's own origin may call the backend with credentials (Reflex's default is any origin).
    cors_allowed_origins=[_settings.app_url],
)
