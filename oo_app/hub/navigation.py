"""Navigation between the operator notebooks: their names, what each shows, and how one links to another.

How links are written follows the server in front of the notebooks (``settings.hub_notebook_links``; ``oo hub`` exports
``path`` to its notebooks). Nothing here reads ``os.environ`` or imports marimo.
"""

from __future__ import annotations

from oo_app.settings import get_settings

NOTEBOOK_LINKS_ENV = "OO_HUB_NOTEBOOK_LINKS"
LINK_STYLES = ("file", "path")
NOTEBOOKS = {
    "hub": "Overview: persons, activity, tips, reactions, errors",
    "agent_health": "Agents: freshness against TTL and SLA, run durations, errors, stale outputs",
    "tips": "Tips: the log with filters, acceptance by agents, prompt, model and policy",
    "events": "Events: the signal store by person, type and time",
    "experiments": "Experiments: shadow candidates against the incumbent, benchmarks, promotion",
    "people": "People: one person's profile, consents and tips; recompute their agents",
}


def notebook_href(name: str, links: str | None = None) -> str:
    """A relative link to notebook ``name`` of ``admin_notebooks/``, in the way the server in front of the notebooks
    addresses them: ``links``, by default the setting ``hub_notebook_links`` (``OO_HUB_NOTEBOOK_LINKS``).

    - ``file`` (the default): ``?file=<name>.py``, as ``marimo run admin_notebooks/`` serves a folder;
    - ``path``: ``../<name>/``, each notebook at a sibling path, as ``marimo.create_asgi_app()
      .with_dynamic_directory(path=P, ...)`` serves them (at ``P/<name>/``), which is what ``oo hub`` does.

    It has to be said: marimo's request cannot tell the two apart (the kernel sees ``/ws`` and no ``file`` in both).
    """
    if name not in NOTEBOOKS:
        raise KeyError(f"no notebook {name!r} in admin_notebooks/; known: {', '.join(NOTEBOOKS)}")
    links = links or get_settings().hub_notebook_links
    if links not in LINK_STYLES:
        raise ValueError(f"{NOTEBOOK_LINKS_ENV}={links!r}: 'file' (marimo run admin_notebooks/) or 'path'")
    return f"?file={name}.py" if links == "file" else f"../{name}/"


def notebook_heading(title: str, links: str | None = None) -> str:
    """The markdown heading every notebook opens with: ``title`` and a link to each notebook (:func:`notebook_href`)."""
    nav = " · ".join(f"[{name}]({notebook_href(name, links)})" for name in NOTEBOOKS)
    return f"# {title}\n{nav}"
