"""``reflex run`` serving the page its web directory holds, without compiling and building it again first.

tests/app_server.py starts ``python -m tests.reflex_prebuilt run ...`` in place of ``reflex run ...`` when
tests/page_build.py finds that build made from the same sources for the same port. Everything else is Reflex's own
command: its options, its configuration, its production backend with the built page mounted on it.
"""

from __future__ import annotations

from reflex import reflex as reflex_command
from reflex.utils import build


def _built_already(*_args: object, **_kwargs: object) -> None:
    """The compile and the production build that ``reflex run --env prod`` starts with, done by an earlier run."""


reflex_command._compile_app = _built_already
build.setup_frontend_prod = _built_already

if __name__ == "__main__":
    reflex_command.cli()
