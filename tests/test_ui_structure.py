"""The page layer's seams, read from the source: a page state never imports another page's state (sign-in is shared
through :mod:`oo_app.state.signed_in`), components never import a page, and every colour of the pages and components
is named once, in :mod:`oo_app.components.style`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from oo_app.settings import ROOT

STATE = ROOT / "oo_app" / "state"
PAGES = ROOT / "oo_app" / "pages"
COMPONENTS = ROOT / "oo_app" / "components"
STYLE = COMPONENTS / "style.py"
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


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
    """The colour literals (``#`` and 3 or 6 hex digits) in the strings of ``path``, as ``line: colour``."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {colour}"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for colour in COLOUR.findall(node.value)
    ]


def test_the_scans_see_the_page_states_their_imports_and_the_palette() -> None:
    pages = page_state_modules()
    assert {"oo_app.state.tip", "oo_app.state.settings"} <= pages, f"page states found: {sorted(pages)}"
    assert "oo_app.state.signed_in" not in pages, "the sign-in mixin is not a page's state"
    assert "oo_app.state.signed_in" in imported_modules(STATE / "tip.py"), "the import scan misses state imports"
    palette = " ".join(colour_literals(STYLE))
    assert "#000000" in palette, f"the colour scan misses the palette's black: {palette}"
    assert "#a8a8a8" in palette, f"the colour scan misses the palette's muted grey: {palette}"


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


def test_every_colour_of_the_pages_and_components_is_named_in_the_style_module() -> None:
    modules = sorted(p for folder in (PAGES, COMPONENTS) for p in folder.glob("*.py") if p != STYLE)
    assert len(modules) >= 5, f"too few modules scanned: {modules}"
    literals = [found for path in modules for found in colour_literals(path)]
    assert not literals, "name these colours in oo_app/components/style.py and import them:\n" + "\n".join(literals)
