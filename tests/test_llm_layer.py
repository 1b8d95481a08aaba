"""The alias layer stands below the recommender and operations: ``oo_app/llm/`` never imports them, and the one
wiring point, :func:`oo_app.bootstrap.bootstrap`, hands the router their providers and hooks, cheaply and once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from oo_app.bootstrap import bootstrap
from oo_app.llm import router
from oo_app.llm.aliases import COMPOSER_PROVIDER, LOCAL_PROVIDER
from oo_app.settings import ROOT

LLM_PACKAGE = ROOT / "oo_app" / "llm"
ABOVE_THE_ALIAS_LAYER = ("oo_app.recommender", "oo_app.ops")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, relative imports resolved."""
    package = "oo_app.llm"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_alias_layer_never_imports_the_recommender_or_operations() -> None:
    modules = sorted(LLM_PACKAGE.glob("*.py"))
    assert modules, f"no modules under {LLM_PACKAGE}"
    crossings = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in modules
        for module in sorted(imported_modules(path))
        if module.startswith(ABOVE_THE_ALIAS_LAYER)
    ]
    assert not crossings, "the alias layer reaches above itself (offer a provider or hook to oo_app.bootstrap):\n" + (
        "\n".join(crossings)
    )


def test_the_alias_names_import_nothing_of_the_app() -> None:
    app_imports = sorted(
        m for m in imported_modules(LLM_PACKAGE / "aliases.py") if m.split(".")[0] in {"oo_app", "agents"}
    )
    assert not app_imports, f"oo_app/llm/aliases.py must hold names only, yet imports {app_imports}"


def test_bootstrap_imports_neither_litellm_nor_mlflow_nor_the_local_models() -> None:
    probe = (
        "import sys\nfrom oo_app.bootstrap import bootstrap\nbootstrap()\nbootstrap()\n"
        "heavy = ('litellm', 'mlflow', 'torch', 'llama_cpp', 'sentence_transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"bootstrap loaded {done.stdout.strip()}"


def test_bootstrapping_twice_registers_each_local_provider_once() -> None:
    import litellm

    bootstrap()
    bootstrap()
    router.get_router.cache_clear()
    router.get_router()
    names = [entry["provider"] for entry in litellm.custom_provider_map]
    assert names.count(COMPOSER_PROVIDER) == 1, names
    assert names.count(LOCAL_PROVIDER) == 1, names


def test_the_router_refuses_to_build_before_the_bootstrap_wired_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router, "_wiring", None)
    router.get_router.cache_clear()
    try:
        with pytest.raises(router.RouterNotWired, match="bootstrap"):
            router.get_router()
    finally:
        router.get_router.cache_clear()
