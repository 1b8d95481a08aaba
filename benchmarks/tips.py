"""Benchmark: the local tip writer on the personas: latency, tokens, and how many samples pass the checks.

Run on demand: ``python benchmarks/tips.py [--hours 8]``. For each sample persona at several hours of one day it
computes every agent's snippet, renders the orchestrator prompt, and lets Gemma 3 270M write a tip through the same
checks the app uses. It prints the share of samples and of tips that pass (whatever it is) and per-tip latency.
Nothing here is a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oo_app.evaluation.bench import DEFAULT_PERSONAS, load_moments  # noqa: E402
from oo_app.llm.local import LocalSampler, local_llama  # noqa: E402
from oo_app.recommender.grounding import is_grounded  # noqa: E402
from oo_app.recommender.local_writer import SAMPLES, examples_from, few_shot_prompt, problems  # noqa: E402
from oo_app.recommender.prompts import facts_of, render  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=8, help="moments per persona, spread over one day")
    args = parser.parse_args()

    llama = local_llama()
    sample = LocalSampler()
    latencies, prompt_tokens, drawn, passed_samples, tips, passed_tips, unfaithful = [], [], 0, 0, 0, 0, 0
    examples: list[str] = []
    moments = load_moments(DEFAULT_PERSONAS, args.hours)
    for moment in moments:
        prompt_tokens.append(len(llama.tokenize(render(moment.signals, []).encode())))
        facts = facts_of(moment.signals, [])
        lines = [s.text for s in moment.signals]
        shots = examples_from(facts)
        prompt = few_shot_prompt(lines, shots)
        started, tip = time.perf_counter(), None
        for seed in range(SAMPLES):
            candidate = sample(prompt, seed).strip()
            drawn += 1
            if not problems(candidate, lines, [], shots):
                passed_samples += 1
                tip = candidate
                break
        latencies.append(time.perf_counter() - started)
        tips += 1
        if tip is not None:
            passed_tips += 1
            unfaithful += not is_grounded(tip, lines)
            examples.append(f"{moment.persona} {moment.at[11:16]}Z: {tip}")

    personas = len({moment.persona for moment in moments})
    print(f"moments: {tips} ({personas} personas x {args.hours})")
    print(f"samples drawn: {drawn}, passing the checks: {passed_samples} ({passed_samples / drawn:.0%})")
    print(f"tips written by the local model: {passed_tips}/{tips} ({passed_tips / tips:.0%}); the rest: composer")
    print(f"unfaithful tips shown: {unfaithful}")
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"latency per tip: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {max(latencies):.2f} s")
    print(f"orchestrator prompt tokens: median {statistics.median(prompt_tokens):.0f}, max {max(prompt_tokens)}")
    per_sample = f"{sample.prompt_tokens / drawn:.0f} prompt, {sample.completion_tokens / drawn:.1f} completion"
    print(f"tokens per sample of the local model: {per_sample}")
    print("some local tips:")
    for line in examples[:8]:
        print("  " + line)


if __name__ == "__main__":
    main()
