"""oO settings: one pydantic-settings object read from the environment (prefix ``OO_``) and ``.env``.

Every configurable fact of the app lives here; other modules call :func:`get_settings` and never read
``os.environ`` themselves. Defaults are the embedded ones: SQLite, no LLM server, no MLflow server.

Why one long module: pydantic-settings reads one class, and the settings are checked against each other (production
against secrets and URLs, the hosts against the app's URL); most of the length is one documented field per setting.
"""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
EVERY_MINUTE = "* * * * *"


def bare_host(name: Any, setting: str) -> str:
    """``name`` as a Host header's host compares with it: lowercased, no trailing dot, an IPv6 address unbracketed.

    Raises ``ValueError`` naming ``setting`` for anything else (a URL, a port, a path)."""
    host = name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]") if isinstance(name, str) else ""
    if not host or any(char in host for char in "/@ []") or (":" in host and not _is_ipv6(host)):
        raise ValueError(f"{setting}: {name!r} is no bare host name (give names like oo.example.com, comma-separated)")
    return host


def comma_separated(value: Any) -> Any:
    """A list setting as the environment gives it: ``a, b`` or a JSON list, blanks dropped; anything else as is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    items = json.loads(text) if text.startswith("[") else [item.strip() for item in text.split(",")]
    return [item for item in items if item]


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def embedded_alias_table(tip_writer: str) -> dict[str, list[dict[str, Any]]]:
    """The embedded alias table: every alias answers offline with no server.

    ``local``: Gemma 3 270M writes tips, the rule-based composer is its fallback; ``rules``: the composer alone.
    ``judge``: the sense classifier, held down by the guardrail and grounding checks, stands in for a judge model.
    """
    composer = [{"model": "oo-rules/composer"}]
    writer = [{"model": "oo-local/gemma3-270m"}] if tip_writer == "local" else composer
    return {
        "tip-generator": writer,
        "tip-generator-fallback": composer,
        "embedder": [{"model": "oo-local/all-minilm-l6-v2"}],
        "judge": [{"model": "oo-rules/checks"}],
    }


class Settings(BaseSettings):
    """Configuration of one oO deployment."""

    model_config = SettingsConfigDict(
        env_prefix="OO_",
        env_file=ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_nested_delimiter="__",
    )

    env: Literal["development", "test", "production"] = Field(
        default="production",
        description="production unless asked otherwise (./scripts/dev sets development, the tests test): a plain "
        "`docker run` or any start outside the scripts gets no dev login, no known secret, no private push endpoints.",
    )
    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'data' / 'oo.db'}",
        description="SQLAlchemy URL; relative sqlite paths are resolved against the project root.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(DEV_SECRET),
        description="Signs cookies and CSRF tokens; must be set outside development.",
    )

    @field_validator("secret_key")
    @classmethod
    def _real_secret_in_production(cls, secret: SecretStr, info: ValidationInfo) -> SecretStr:
        value = secret.get_secret_value()
        if info.data.get("env") == "production" and (value == DEV_SECRET or len(value) < 32):
            raise ValueError("set OO_SECRET_KEY to a random value of at least 32 characters when OO_ENV=production")
        return secret

    # Login (oo_app.auth): OpenID Connect, server-side sessions, the development login, admins.
    app_url: str = Field(
        default="http://localhost:3000",
        description="The URL people open; sign-in returns there, and cookies are Secure unless it is on localhost.",
    )
    api_url: str | None = Field(
        default=None,
        description="The backend's URL when browsers reach it elsewhere than OO_APP_URL (the API and the page's "
        "websocket on another host or port); its origin is trusted like the app's. Unset: the app's own (one port "
        "serves both, as in the image), plus http://localhost:<backend_port> and 127.0.0.1 outside production.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the app answers to (its Host header, port aside) besides those of OO_APP_URL, "
        "OO_API_URL and loopback, comma-separated; any other gets 400 (DNS rebinding). Add the name a proxy or a "
        "scraper uses to reach the app directly (e.g. app in compose).",
    )
    session_days: float = Field(default=14.0, gt=0, description="How long a sign-in lasts.")
    oidc_issuer: str | None = Field(
        default=None, description="OpenID Connect issuer URL; its discovery document configures the rest."
    )
    oidc_client_id: str = "oo"
    oidc_client_secret: SecretStr = Field(
        default=SecretStr(""), description="Empty: a public client (PKCE only, no client authentication)."
    )
    dev_login: bool | None = Field(
        default=None,
        description="One-click sign-in as the demo person; unset: on in development when no OIDC issuer is set.",
    )
    admin_emails: list[str] = Field(
        default_factory=list, description="People promoted to the admin role when they sign in."
    )

    @field_validator("dev_login", "oidc_issuer", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("dev_login")
    @classmethod
    def _no_dev_login_in_production(cls, enabled: bool | None, info: ValidationInfo) -> bool | None:
        if enabled and info.data.get("env") == "production":
            raise ValueError("OO_DEV_LOGIN must stay off when OO_ENV=production")
        return enabled

    @field_validator("api_url", mode="before")
    @classmethod
    def _empty_api_url_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_names(cls, value: Any) -> Any:
        value = comma_separated(value)
        return [bare_host(name, "OO_ALLOWED_HOSTS") for name in value] if isinstance(value, list) else value

    @field_validator("app_url", "api_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        return url.rstrip("/") if url is not None else None

    @property
    def dev_login_enabled(self) -> bool:
        """Whether ``POST /auth/dev-login`` works: never in production; by default only in development without OIDC."""
        if self.env == "production":
            return False
        if self.dev_login is None:
            return self.env == "development" and not self.oidc_issuer
        return self.dev_login

    token_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Fernet keys of the token vault, newest first (rotation keeps the older ones).",
    )
    # Integrations (oo_app/integrations): the vault's development key and Todoist's OAuth app and endpoints.
    token_key_file: Path = Field(
        default=ROOT / "data" / "token.key",
        description="Development only, when token_keys is empty: the vault key generated once and kept here.",
    )
    todoist_client_id: str = Field(
        default="",
        description="oO's app in Todoist's App Console, with <app_url>/integrations/todoist/callback as redirect URL.",
    )
    todoist_client_secret: SecretStr = Field(default=SecretStr(""), description="Client secret of that app.")
    todoist_oauth_url: str = Field(default="https://todoist.com/oauth", description="authorize and access_token")
    todoist_api_url: str = Field(default="https://api.todoist.com/api/v1", description="Todoist API v1")
    todoist_timeout_s: float = Field(default=10.0, gt=0, description="Per request to Todoist, revocation included.")
    todoist_sync_days: int = Field(default=90, ge=1, description="How far back the backfill reads completed tasks.")
    todoist_sync_interval_s: float = Field(
        default=300.0, ge=10, description="Seconds between two syncs of a person's Todoist (failures back off longer)."
    )
    todoist_webhooks: bool = Field(
        default=False,
        description="Accept Todoist's webhooks at /api/integrations/todoist/webhook (needs a public URL).",
    )
    # The calendar (oo_app/calendar): Google Calendar's OAuth app and API, and how every kind of calendar is read.
    google_calendar_client_id: str = Field(
        default="",
        description="oO's OAuth client in Google Cloud, with <app_url>/integrations/google-calendar/callback as "
        "redirect URL.",
    )
    google_calendar_client_secret: SecretStr = Field(default=SecretStr(""), description="Client secret of that client.")
    google_oauth_url: str = Field(
        default="https://accounts.google.com/o/oauth2/v2/auth", description="Google's authorization endpoint"
    )
    google_token_url: str = Field(default="https://oauth2.googleapis.com/token", description="Google's token endpoint")
    google_revoke_url: str = Field(
        default="https://oauth2.googleapis.com/revoke", description="Google's revocation endpoint (RFC 7009)"
    )
    google_calendar_api_url: str = Field(
        default="https://www.googleapis.com/calendar/v3", description="Google Calendar API v3"
    )
    calendar_timeout_s: float = Field(
        default=10.0, gt=0, description="Per request to a calendar (CalDAV, Google, an ICS address)."
    )
    calendar_sync_interval_s: float = Field(
        default=900.0, ge=10, description="Seconds between two syncs of a person's calendar (failures back off longer)."
    )
    calendar_round_max: int = Field(
        default=1000,
        ge=1,
        description="Most calendars one round (once a minute, in one process) syncs; the rest of what is due waits "
        "for the next round, longest waiting first.",
    )
    calendar_round_threads: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Calendars one round reads at once (threads: a read mostly waits on the calendar's server).",
    )
    calendar_cache_ttl_s: float = Field(
        default=600.0, gt=0, description="How long a person's busy times stay in memory before they are read again."
    )
    calendar_max_bytes: int = Field(
        default=5_000_000, ge=10_000, description="The largest ICS answer or CalDAV report oO reads, in bytes."
    )

    # LLM: aliases resolve through a LiteLLM Router built from this table (model_list form); unset, the embedded
    # table of `tip_writer` applies.
    llm_aliases: dict[str, list[dict[str, Any]]] | None = None
    tip_writer: Literal["local", "rules"] = Field(
        default="local",
        description="Embedded tip writer: the local model with the composer as fallback, or rules only.",
    )
    llm_timeout_s: float = 10.0
    llm_retries: int = 1
    llm_count_tokens_locally: bool = Field(
        default=False,
        description="Let LiteLLM count a call's tokens itself when the model server reports none (tiktoken's "
        "cl100k_base, 25 MB per worker). Off: Ollama and OpenAI-compatible servers report their counts; a server "
        "that reports none records 0.",
    )
    llm_cooldown_s: float = Field(
        default=30.0,
        ge=0,
        description="How long a model server that failed a call (refused, timed out, 5xx) is left alone: the alias's "
        "fallback writes meanwhile, then one call probes it (shared through Redis when OO_REDIS_URL is set). 0: off.",
    )
    model_server_url: str | None = Field(
        default=None,
        description="The host's one local model process (`oo models serve`; ./scripts/dev starts it at "
        "http://127.0.0.1:8765): the local models answer from there, so workers share one copy. Unset: each process "
        "loads its own.",
    )

    local_model_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="CPU threads for each local model (llama.cpp's Gemma, torch's sentence encoder). Unset: half the "
        "host's cores, 1 to 4. Their threads wait for each other by spinning: given as many as the cores, a sample "
        "took 7x as long while one other process was busy (ADR 0019).",
    )

    @field_validator("model_server_url", mode="before")
    @classmethod
    def _model_server_is_a_url(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        url = str(value).strip().rstrip("/")
        if not url.startswith(("http://", "https://")) or url.count("/") > 2:
            raise ValueError(f"OO_MODEL_SERVER_URL: {value!r} is no server address (like http://127.0.0.1:8765)")
        return url

    mlflow_tracking_uri: str = f"sqlite:///{ROOT / 'data' / 'mlflow.db'}"
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    tracing_enabled: bool = Field(default=True, description="Trace every tip generation into MLflow.")

    # Retention (oo_app/retention.py): `oo purge` and the daily round delete what is older than these periods.
    retention_daily: bool = Field(
        default=True, description="Apply the retention periods once a day (in-process scheduler or the workers)."
    )
    retention_events_days: int = Field(default=180, ge=1, description="Reactions, opens and moods (events.at).")
    retention_task_completions_days: int = Field(default=180, ge=1, description="By completed_at.")
    retention_tips_days: int = Field(default=180, ge=1, description="Tips and their shadows, by created_at.")
    retention_agent_outputs_days: int = Field(default=30, ge=1, description="After an output's expires_at.")
    retention_agent_runs_days: int = Field(default=30, ge=1, description="By started_at.")
    retention_push_deliveries_days: int = Field(default=90, ge=1, description="By slot.")
    retention_audit_events_days: int = Field(default=730, ge=1, description="Operators' actions, by at.")
    retention_jobs_days: int = Field(
        default=7, ge=1, description="Finished procrastinate jobs (the job queue), after their last event."
    )
    retention_traces_days: int = Field(default=90, ge=1, description="MLflow traces, in every experiment.")
    retention_batch_size: int = Field(
        default=1000, ge=1, le=100_000, description="Rows (or traces) deleted per statement; a purge loops."
    )

    # Agents: the in-process scheduler runs due (user, agent) computations every `scheduler_interval_s`.
    scheduler_enabled: bool = True
    scheduler_interval_s: float = 60.0
    # At scale, agents run as jobs on procrastinate (PostgreSQL) workers and the in-process scheduler stays off.
    task_engine: Literal["inprocess", "procrastinate"] = "inprocess"
    jobs_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the job queue; by default the app's database when that is PostgreSQL.",
    )
    worker_concurrency: int = Field(default=4, ge=1, description="Jobs one worker process runs at once.")
    stalled_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A worker silent (no heartbeat) for this long is dead: its running jobs are retried.",
    )
    jobs_tick_cron: str = Field(
        default=EVERY_MINUTE,
        description="When the agent workers' periodic job runs (the jobs of dead workers retried, then the due pairs "
        "deferred): a cron expression, five fields, or six with the seconds last (`* * * * * */5`: every 5 s).",
    )

    @field_validator("jobs_tick_cron")
    @classmethod
    def _a_cron_expression(cls, value: str) -> str:
        if value == EVERY_MINUTE:
            return value  # the default needs no parser: croniter loads only where another value is set
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"OO_JOBS_TICK_CRON {value!r} is not a cron expression (e.g. '* * * * *')")
        return value

    # How often an open tip page looks for a newer tip.
    live_poll_s: float = 5.0
    prepare_next_tip: bool = Field(
        default=True,
        description="Once a tip is shown, write the next one in the background, so a reaction shows it at once.",
    )
    # Limits on what costs (oo_app/recommender/limits.py): a token bucket per person, shared through Redis when set.
    tip_rate_per_minute: int = Field(
        default=6,
        ge=1,
        le=6000,
        description="Tips oO writes for one person per minute, sustained (the bucket's refill): shown, written ahead "
        "and shadow tips alike. Past it the API answers 429 and the page keeps the current tip.",
    )
    tip_burst: int = Field(
        default=12, ge=1, le=10_000, description="Tips one person may have written in a row before the rate applies."
    )
    tip_repeat_window_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="POST /api/recommend within this long of the person's unanswered tip answers that tip again "
        "instead of writing a new one (0: always a new one, within the limit).",
    )

    demo_email: str = "demo@example.com"
    policy: str = "incumbent"
    # The operator hub (`oo hub`, oo_app.hub.server): marimo notebooks behind the operators' shared password.
    hub_password: SecretStr | None = Field(
        default=None,
        description="The operators' shared secret; `oo hub` refuses to start without one (16+ characters outside "
        "development).",
    )
    hub_host: str = Field(default="127.0.0.1", description="Where `oo hub` listens; loopback unless --host says so.")
    hub_port: int = Field(default=2718, ge=1, le=65535)
    hub_operator: str = Field(
        default="hub",
        min_length=1,
        description="Who acts in the hub's admin actions (exported to the notebooks as OO_HUB_OPERATOR).",
    )
    hub_notebook_links: Literal["file", "path"] = Field(
        default="file",
        description="How the notebooks link to each other: `file` (`?file=<name>.py`, as `marimo run admin_notebooks/` "
        "serves a folder) or `path` (`../<name>/`, as `oo hub` serves them at /notebooks/<name>/; `oo hub` sets it).",
    )
    hub_session_hours: float = Field(default=12.0, gt=0, description="How long a hub login lasts.")
    hub_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(LOOPBACK_HOSTS),
        description="Host names the hub answers to (its Host header, port aside), comma-separated; any other gets "
        "400, which stops DNS rebinding. Add the name operators open behind a reverse proxy.",
    )
    hub_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the TLS reverse proxies in front of the hub, comma-separated: "
        "only a request from one of them is believed about X-Forwarded-Proto (the login cookie's Secure flag) and "
        "X-Forwarded-For (the client the login brake counts). Empty: no proxy header is believed.",
    )

    @field_validator("hub_password", mode="before")
    @classmethod
    def _empty_password_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("hub_allowed_hosts", "hub_trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = comma_separated(value)
            if not value and info.field_name == "hub_allowed_hosts":
                return list(LOOPBACK_HOSTS)
        return value

    @field_validator("hub_trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"OO_HUB_TRUSTED_PROXIES: {proxy!r} is no IP address or network (e.g. 10.0.0.5 or 172.16.0.0/12)"
                ) from None
        return proxies

    # --- Web push (oo_app/push) ---------------------------------------------------------------------------------
    # VAPID (RFC 8292): oO signs every push with this key; browsers subscribe with its public key as
    # `applicationServerKey` (GET /api/push/key). Generate one with `oo push generate-vapid`.
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="The VAPID signing key, a P-256 private key: base64url of its raw 32 bytes (what py_vapid's "
        "from_string reads and `oo push generate-vapid` prints) or a PEM. Required outside development; in development "
        "it is generated once into vapid_key_file.",
    )
    vapid_subject: str | None = Field(
        default=None,
        description="The operator's contact push services see in every VAPID token: a mailto: address or an https: "
        "URL. Required outside development (development uses mailto:oo@localhost).",
    )
    vapid_key_file: Path = Field(
        default=ROOT / "data" / "vapid.key",
        description="Development only, when vapid_private_key is unset: the key generated once and kept here.",
    )
    push_daily_cap: int = Field(
        default=3, ge=1, le=3, description="Pushes per person per local day, at most (the consent text says three)."
    )
    push_min_gap_minutes: float = Field(default=60.0, ge=0, description="Between two pushes to one person, at least.")
    push_grace_minutes: float = Field(
        default=20.0,
        gt=0,
        le=59,
        description="A push goes out this long after its delivery moment at the latest; a missed slot is skipped.",
    )
    push_recent_view_minutes: float = Field(
        default=30.0, ge=0, description="No push while the person saw or answered a tip this recently (page open)."
    )
    push_ttl_s: int = Field(
        default=1800,
        ge=0,
        le=86_400,
        description="How long a push service may hold a push for an offline browser (never past the quiet hours).",
    )
    push_timeout_s: float = Field(default=10.0, gt=0, description="Per request to a push service.")
    push_allow_private_endpoints: bool | None = Field(
        default=None,
        description="Accept push endpoints on loopback, private or link-local addresses (and plain http there), for "
        "a local push service. Unset: on in development and test, off in production.",
    )

    @field_validator("vapid_private_key", "vapid_subject", "push_allow_private_endpoints", mode="before")
    @classmethod
    def _empty_push_setting_is_unset(cls, value: Any) -> Any:
        return None if value == "" or (isinstance(value, SecretStr) and not value.get_secret_value()) else value

    @field_validator("vapid_subject")
    @classmethod
    def _subject_is_a_contact(cls, subject: str | None) -> str | None:
        if subject is None:
            return None
        subject = subject.strip()
        mailbox = subject.removeprefix("mailto:")
        if subject.startswith("mailto:") and "@" in mailbox.strip("@") and " " not in mailbox:
            return subject
        if subject.startswith("https://") and len(subject) > len("https://") and " " not in subject:
            return subject
        raise ValueError(
            "OO_VAPID_SUBJECT must be a mailto: address (mailto:ops@example.com) or an https: URL push services can "
            "reach you at"
        )

    @property
    def push_private_endpoints_allowed(self) -> bool:
        """Whether push endpoints may be private addresses: as set, else only in development and test."""
        if self.push_allow_private_endpoints is None:
            return self.env != "production"
        return self.push_allow_private_endpoints

    frontend_port: int = 3000
    backend_port: int = 8000

    @field_validator("database_url")
    @classmethod
    def _absolute_sqlite_path(cls, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(ROOT / url.removeprefix(prefix))
        return url

    @property
    def alias_table(self) -> dict[str, list[dict[str, Any]]]:
        return self.llm_aliases if self.llm_aliases is not None else embedded_alias_table(self.tip_writer)

    @property
    def models_dir(self) -> Path:
        return ROOT / "data" / "models"

    @property
    def runs_inprocess_scheduler(self) -> bool:
        """Whether the app process computes due agents itself: unless switched off or handed to job workers."""
        return self.scheduler_enabled and self.task_engine == "inprocess"

    @property
    def queue_database_url(self) -> str | None:
        """The PostgreSQL URL of the job queue, or None when there is none (the app runs on SQLite)."""
        if self.jobs_database_url:
            return self.jobs_database_url
        return self.database_url if self.database_url.startswith("postgresql") else None

    # --- Operations (oo_app/ops): /health, /metrics, logs ---------------------------------------------------------
    redis_url: str | None = Field(
        default=None,
        description="Redis of Reflex's state manager (redis://, rediss:// or unix://); /health pings it. Unset: "
        "REFLEX_REDIS_URL from the environment (Reflex's own name for the same URL), else no Redis.",
    )
    health_timeout_s: float = Field(
        default=1.5, gt=0, le=10, description="How long /health waits for each dependency before calling it down."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="The bearer token a scraper sends to /metrics (Authorization: Bearer ...). Unset: /metrics "
        "answers loopback clients only, and nobody when OO_ENV=production.",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        validate_default=True,
        description="json (one object per line) or text; unset: json when OO_ENV=production, text otherwise.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="The root log level of the app, `oo worker` and `oo hub`."
    )
    api_docs: bool | None = Field(
        default=None,
        description="Serve the API's docs (/api/docs) and schema (/api/openapi.json). Unset: on outside production.",
    )

    @property
    def api_docs_enabled(self) -> bool:
        """Whether /api/docs and /api/openapi.json answer: as set, else everywhere but in production."""
        return self.env != "production" if self.api_docs is None else self.api_docs

    @field_validator("redis_url", "metrics_token", "log_format", "api_docs", mode="before")
    @classmethod
    def _empty_ops_setting_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _redis_url_of_reflex(self) -> Settings:
        # One URL, two names: Reflex reads REFLEX_REDIS_URL itself (it overrides rxconfig), so oO sees the same Redis.
        if self.redis_url is None:
            self.redis_url = os.environ.get("REFLEX_REDIS_URL") or None
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format")
    @classmethod
    def _json_logs_in_production(cls, log_format: str | None, info: ValidationInfo) -> str:
        if log_format is not None:
            return log_format
        return "json" if info.data.get("env") == "production" else "text"

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("OO_METRICS_TOKEN must be at least 16 characters (or unset, for loopback scrapes only)")
        return token


def settings_problem(error: ValidationError) -> str:
    """One line for a person starting oO: each invalid setting by its variable, and what to do about it."""
    problems = []
    for item in error.errors():
        name = "OO_" + "__".join(str(part) for part in item["loc"]).upper() if item["loc"] else "OO_* settings"
        problems.append(f"{name}: {item['msg'].removeprefix('Value error, ')}")
    return "oO cannot start with these settings: " + "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()
