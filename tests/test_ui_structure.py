"""The page layer's seams, read from the source: every page state extends the sign-in base
(:class:`oo_app.state.signed_in.SignedIn`) and never imports another page's state, components never import a page, and
every colour of the product is named once, in :mod:`oo_app.palette` (the Reflex pages through
:mod:`oo_app.components.style`, the plain pages through :mod:`oo_app.plain_page`)."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import subprocess
from pathlib import Path

from oo_app import palette
from oo_app.settings import ROOT

STATE = ROOT / "oo_app" / "state"
PAGES = ROOT / "oo_app" / "pages"
COMPONENTS = ROOT / "oo_app" / "components"
PALETTE = ROOT / "oo_app" / "palette.py"
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
# Where the colour scan looks: the product's code and what it serves (tests and docs may spell colours out).
PRODUCT = ("oo_app", "agents", "admin_notebooks", "benchmarks", "scripts", "assets")
TEXT_SUFFIXES = {".py", ".js", ".css", ".html", ".json", ".webmanifest", ".svg", ".txt"}
# Files that may spell a colour out, and why.
LITERAL_COLOURS = {
    PALETTE: "the palette itself",
    # JSON cannot import the palette; test_the_manifest_takes_the_palettes_background holds it to the palette.
    ROOT / "assets" / "manifest.webmanifest": "the web manifest's background and theme colours",
}
# Page states that may do without the sign-in base: class name -> why. None today.
NOT_SIGNED_IN: dict[str, str] = {}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (and every name it imports from one, as ``module.name``), anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path.relative_to(ROOT)}: a relative import; spell the module out"
            found.add(node.module or "")
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_page_state(node: ast.ClassDef) -> bool:
    """A class extending ``rx.State`` that is not a mixin: the state of one page."""
    extends_state = any(isinstance(base, ast.Attribute) and base.attr == "State" for base in node.bases)
    mixin = any(k.arg == "mixin" and isinstance(k.value, ast.Constant) and k.value.value for k in node.keywords)
    return extends_state and not mixin


def page_state_modules() -> set[str]:
    return {
        module_name(path)
        for path in STATE.glob("*.py")
        if any(isinstance(n, ast.ClassDef) and is_page_state(n) for n in ast.walk(ast.parse(path.read_text())))
    }


def colour_literals(path: Path) -> list[str]:
    """The colour literals (``#`` and 3 or 6 hex digits) of ``path``, as ``path:line: colour``: in the strings of a
    Python module (not its comments), anywhere in any other file."""
    if path.suffix != ".py":
        return [
            f"{path.relative_to(ROOT)}:{number}: {colour}"
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            for colour in COLOUR.findall(line)
        ]
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {colour}"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for colour in COLOUR.findall(node.value)
    ]


def product_files() -> list[Path]:
    """Every text file of the product that could carry a colour: what git tracks or would track (built output,
    caches and what running the notebooks writes, like ``__marimo__/`` sessions, are ignored by .gitignore)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *PRODUCT],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(
        ROOT / name
        for name in set(listed.split("\0"))
        if name and Path(name).suffix in TEXT_SUFFIXES and (ROOT / name).is_file()
    )


def page_states() -> list[type]:
    """Every Reflex state class defined in ``oo_app/state/`` that is not a mixin, imported."""
    import reflex as rx

    found = []
    for path in sorted(STATE.glob("*.py")):
        module = importlib.import_module(module_name(path))
        found.extend(
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__ and issubclass(cls, rx.State) and not vars(cls).get("_mixin")
        )
    return found


def test_the_scans_see_the_page_states_their_imports_and_the_palette() -> None:
    pages = page_state_modules()
    assert {"oo_app.state.tip", "oo_app.state.settings"} <= pages, f"page states found: {sorted(pages)}"
    assert "oo_app.state.signed_in" not in pages, "the sign-in mixin is not a page's state"
    assert "oo_app.state.signed_in" in imported_modules(STATE / "tip.py"), "the import scan misses state imports"
    in_palette = " ".join(colour_literals(PALETTE))
    assert "#000000" in in_palette, f"the colour scan misses the palette's black: {in_palette}"
    assert "#a8a8a8" in in_palette, f"the colour scan misses the palette's muted grey: {in_palette}"
    manifest = ROOT / "assets" / "manifest.webmanifest"
    assert "#000000" in " ".join(colour_literals(manifest)), "the colour scan misses colours outside Python"
    files = product_files()
    assert {PALETTE, manifest, ROOT / "oo_app" / "hub" / "server.py", ROOT / "assets" / "sw.js"} <= set(files)


def test_no_page_state_imports_another_pages_state() -> None:
    pages = page_state_modules()
    crossings = [
        f"{module_name(path)} imports {module}"
        for path in sorted(STATE.glob("*.py"))
        for module in sorted(imported_modules(path))
        if module in pages - {module_name(path)}
    ]
    assert not crossings, "share sign-in through oo_app.state.signed_in instead:\n" + "\n".join(crossings)


def test_components_never_import_a_page() -> None:
    crossings = [
        f"{module_name(path)} imports {module}"
        for path in sorted(COMPONENTS.glob("*.py"))
        for module in sorted(imported_modules(path))
        if module.startswith("oo_app.pages")
    ]
    assert not crossings, "pages assemble components, not the other way round:\n" + "\n".join(crossings)


def test_every_page_state_extends_the_sign_in_base() -> None:
    from oo_app.state.signed_in import SignedIn

    states = page_states()
    names = {cls.__name__ for cls in states}
    assert {"TipState", "SettingsState", "MoodState"} <= names, f"page states found: {sorted(names)}"
    outside = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in states
        if not issubclass(cls, SignedIn) and cls.__name__ not in NOT_SIGNED_IN
    ]
    assert not outside, "extend oo_app.state.signed_in.SignedIn (or allow-list with a reason):\n" + "\n".join(outside)
    stale = sorted(set(NOT_SIGNED_IN) - names)
    assert not stale, f"allow-listed page states that no longer exist: {stale}"


def test_every_colour_of_the_product_is_named_once_in_the_palette() -> None:
    files = [path for path in product_files() if path not in LITERAL_COLOURS]
    assert len(files) > 100, f"too few files scanned: {len(files)}"
    literals = [found for path in files for found in colour_literals(path)]
    assert not literals, "name these colours in oo_app/palette.py and import them:\n" + "\n".join(literals)


def test_the_palette_names_each_colour_once() -> None:
    colours = {name: value for name, value in vars(palette).items() if name.isupper() and COLOUR.fullmatch(value)}
    assert len(colours) >= 10, f"the palette's colours: {colours}"
    doubled = {value for value in colours.values() if list(colours.values()).count(value) > 1}
    assert not doubled, f"one name per colour: {doubled}"


def test_the_manifest_takes_the_palettes_background() -> None:
    manifest = json.loads((ROOT / "assets" / "manifest.webmanifest").read_text())
    assert manifest["background_color"] == manifest["theme_color"] == palette.BACKGROUND
