"""``oo models``: the host's one process of the local models (:mod:`oo_app.llm.model_server`), as a click group the
main CLI registers. A refused bind exits with status 1 and its reason, never a stack trace."""

from __future__ import annotations

import click

DEFAULT_PORT = 8765


@click.group("models")
def models() -> None:
    """The local models, once per host."""


@models.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Listen beyond loopback (the server has no authentication: only inside a private network).",
)
@click.option(
    "--lazy",
    is_flag=True,
    help="Open the port at once and load each model on its first request (default: load both, then listen).",
)
def serve(host: str, port: int, allow_remote: bool, lazy: bool) -> None:
    """Serve Gemma 3 270M and the sentence encoder to this host's workers (OpenAI's /v1/completions and
    /v1/embeddings); point them at it with OO_MODEL_SERVER_URL. Both models load before it listens, unless --lazy."""
    from oo_app.llm.model_server import NotLoopback, check_bind
    from oo_app.llm.model_server import serve as run

    try:
        check_bind(host, allow_remote)
    except NotLoopback as error:
        raise click.ClickException(str(error)) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"oO models: http://{shown}:{port} (OO_MODEL_SERVER_URL)", err=True)
    run(host, port, preload=not lazy)
