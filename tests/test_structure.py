"""The rooms keep their boundaries: import-linter checks the contracts of ``[tool.importlinter]`` in
``pyproject.toml`` (direct and indirect imports, those inside functions too), and no module of the product grows past
~400 lines without saying why in its docstring.

The contracts: the alias layer (``oo_app/llm/``) never reaches the recommender, operations, the hub or the pages,
and its names import nothing; operations never load the hub (nor pandas, plotly or marimo); the agents never reach
web push, the task engine, the web framework or the hub; and no two rooms import each other, directly or through
others. Tests are not held to the size rule: a test module follows one feature, however many cases it needs.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from oo_app.settings import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400
LONG_REASON = "Why one long module:"  # the docstring paragraph that gives the reason
PRODUCT = ("oo_app", "agents", "admin_notebooks", "benchmarks")
# What the structure must keep forbidding (issue 14): source -> modules it must never import.
REQUIRED_BOUNDARIES = {
    "oo_app.llm": {"oo_app.recommender", "oo_app.ops"},
    "oo_app.ops": {"oo_app.hub"},
    "agents": {"oo_app.push", "oo_app.tasks", "procrastinate"},
}


def lint_imports(*args: str, cwd: Path = ROOT, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath or cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_import_contract_is_kept() -> None:
    checked = lint_imports()

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


def test_the_contracts_still_forbid_what_the_design_forbids() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden: dict[str, set[str]] = {}
    for contract in config["contracts"]:
        if contract["type"] == "forbidden":
            for source in contract["source_modules"]:
                forbidden.setdefault(source, set()).update(contract["forbidden_modules"])
    missing = {
        source: sorted(modules - forbidden.get(source, set()))
        for source, modules in REQUIRED_BOUNDARIES.items()
        if modules - forbidden.get(source, set())
    }
    assert not missing, f"contracts no longer forbid {missing}"
    assert any(contract["type"] == "acyclic_siblings" for contract in config["contracts"]), "no cycle contract"
    assert config.get("exclude_type_checking_imports") is True


def test_a_crossing_inside_a_function_breaks_a_contract(tmp_path: Path) -> None:
    """The checker itself: a forbidden import hidden in a function body, one module away, is reported."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("def later():\n    from probe import middle\n    return middle\n")
    (package / "middle.py").write_text("import probe.high\n")
    (package / "high.py").write_text("")
    (tmp_path / "contracts.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["probe"]\n\n[[tool.importlinter.contracts]]\nname = "low stays low"\n'
        'type = "forbidden"\nsource_modules = ["probe.low"]\nforbidden_modules = ["probe.high"]\n'
    )

    checked = lint_imports("--config", "contracts.toml", cwd=tmp_path, pythonpath=tmp_path)

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "probe.low -> probe.middle" in checked.stdout
    assert "low stays low BROKEN" in checked.stdout


def product_modules() -> list[Path]:
    return sorted(path for folder in PRODUCT for path in (ROOT / folder).rglob("*.py"))


def test_no_module_is_long_without_saying_why() -> None:
    modules = product_modules()
    assert len(modules) > 100, f"the walk found only {len(modules)} modules"
    unexplained = []
    for path in modules:
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and LONG_REASON not in (ast.get_docstring(ast.parse(path.read_text())) or ""):
            unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not unexplained, (
        f"split these modules, or give the reason in their docstring ({LONG_REASON!r}): " + ", ".join(unexplained)
    )


@pytest.mark.parametrize("folder", PRODUCT)
def test_each_room_of_the_product_is_walked(folder: str) -> None:
    assert any(path.parts[len(ROOT.parts)] == folder for path in product_modules())


def readme_layout() -> str:
    """The README's "Layout" section."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Layout")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_layout_names_every_room_of_the_app() -> None:
    layout = readme_layout()
    rooms = [
        path
        for path in sorted((ROOT / "oo_app").iterdir())
        if path.name != "__init__.py" and not path.name.startswith((".", "__"))
        if path.suffix == ".py" or (path / "__init__.py").exists()
    ]
    assert len(rooms) > 20, f"the walk found only {len(rooms)} rooms"
    unnamed = [
        f"oo_app/{path.name}" for path in rooms if f"`oo_app/{path.name}{'/' if path.is_dir() else ''}`" not in layout
    ]
    assert not unnamed, f"README's Layout does not name {unnamed}"


def layout_row(path: str) -> str:
    """The row of README's layout table whose first cell starts with the code ``path``."""
    rows = [line for line in readme_layout().splitlines() if line.startswith(f"| `{path}`")]
    assert len(rows) == 1, f"README's Layout has {len(rows)} rows for {path}"
    return rows[0]


@pytest.mark.parametrize(
    ("folder", "row"), [("oo_app/recommender", "oo_app/recommender/"), ("tests/fakes", "tests/")], ids=str
)
def test_the_readme_layout_names_every_module_of_the_recommender_and_every_fake(folder: str, row: str) -> None:
    words = layout_row(row).replace("_", " ").lower()
    modules = [path.stem for path in sorted((ROOT / folder).glob("*.py")) if path.name != "__init__.py"]
    assert len(modules) >= 5, f"the walk found only {modules}"
    unnamed = [name for name in modules if not re.search(rf"\b{name.replace('_', ' ')}\b", words)]
    assert not unnamed, f"README's Layout row {row!r} does not name {unnamed}"


# --- the tests' shared fixtures ------------------------------------------------------------------------------------

TESTS = ROOT / "tests"
SHARED_FIXTURES = TESTS / "browser_fixtures.py"
SHARED_SERVERS = TESTS / "app_server.py"
# Fixtures of the shared module that a module is meant to override (see its docstring): the server's shape.
OVERRIDES = {"app_server_env", "app_database"}
# Calls that start a browser, or a server's process group, by hand: the shared module does that.
OWN_BROWSER = {"sync_playwright", "launch", "chromium"}
OWN_PROCESS_GROUP = {"Popen", "killpg"}
SHARED_SERVER_HELPERS = {"serve_app", "run_server", "serve_command"}
# Fixtures that serve something other than the module's app server, through the shared helpers: (module, fixture) ->
# why it cannot be the shared ``app_server``.
SERVER_FIXTURES = {
    ("test_answered_elsewhere", "served"): "the backend alone (no page build), driven through the page's socket",
    ("test_websocket_origin", "backend"): "the backend alone (no page build), its websocket opened from many origins",
    ("test_security_origins", "backend"): "the backend alone in production (Granian), asked under foreign Host names",
    ("test_workers", "cluster"): "two backends over one database and one Redis, a page's socket moving between them",
    ("test_hub_server", "served_hub"): "`oo hub`, the operators' server, not the app",
    ("test_llm_production", "litellm_proxy"): "the LiteLLM proxy of the compose profile `ai`, not the app",
    ("test_model_server", "model_server"): "`oo models serve`, the host's one process of the local models, not the app",
}


def is_fixture(node: ast.FunctionDef) -> bool:
    """Decorated with ``pytest.fixture`` (called or not)."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            return True
    return False


def functions(path: Path) -> list[ast.FunctionDef]:
    return [node for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)]


def called_names(node: ast.AST) -> set[str]:
    """The names a function calls anywhere in its body (``f()`` and ``x.f()`` both as ``f``)."""
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def shared_names() -> set[str]:
    """The shared fixtures and the public helpers of the shared modules: names a test module must not reuse."""
    names = {node.name for path in (SHARED_FIXTURES, SHARED_SERVERS) for node in functions(path)}
    return {name for name in names if not name.startswith("_")} - OVERRIDES


def suite_modules() -> list[Path]:
    return sorted(TESTS.glob("test_*.py"))


def test_the_fixture_scan_sees_the_shared_fixtures_and_the_special_servers() -> None:
    names = shared_names()
    assert {"browser", "app_server", "signed_in_page", "new_context", "serve_app", "serve_command"} <= names, names
    served_hub = next(node for node in functions(TESTS / "test_hub_server.py") if node.name == "served_hub")
    assert is_fixture(served_hub), "the fixture scan misses module-scoped fixtures"
    assert "serve_command" in called_names(served_hub), "the call scan misses the shared helpers"
    start = next(node for node in functions(TESTS / "test_jobs.py") if node.name == "start_worker")
    assert "Popen" in called_names(start), "the call scan misses subprocess.Popen"


def test_no_test_module_shadows_a_shared_fixture_or_helper() -> None:
    names = shared_names()
    shadows = [
        f"{path.name}: {node.name}"
        for path in suite_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
    ]
    assert not shadows, "use tests/browser_fixtures.py's (or rename):\n" + "\n".join(shadows)


def test_no_test_module_starts_its_own_browser_or_server_process() -> None:
    own = [
        f"{path.name}: {node.name} calls {sorted(called_names(node) & OWN_BROWSER)}"
        for path in suite_modules()
        for node in functions(path)
        if called_names(node) & OWN_BROWSER
    ]
    own += [
        f"{path.name}: fixture {node.name} calls {sorted(called_names(node) & OWN_PROCESS_GROUP)}"
        for path in suite_modules()
        for node in functions(path)
        if is_fixture(node) and called_names(node) & OWN_PROCESS_GROUP
    ]
    assert not own, (
        "take the shared `browser` fixture, and serve through tests/app_server.serve_command:\n" + "\n".join(own)
    )


def test_every_server_fixture_of_a_test_module_says_why_it_is_not_the_shared_one() -> None:
    found = {
        (path.stem, node.name)
        for path in suite_modules()
        for node in functions(path)
        if is_fixture(node) and called_names(node) & SHARED_SERVER_HELPERS
    }
    unexplained = sorted(found - set(SERVER_FIXTURES))
    assert not unexplained, (
        "use the shared `app_server` (shape it through `app_server_env` or `app_database`), or add the fixture to "
        f"SERVER_FIXTURES with the reason: {unexplained}"
    )
    stale = sorted(set(SERVER_FIXTURES) - found)
    assert not stale, f"SERVER_FIXTURES lists fixtures that no longer serve anything: {stale}"
