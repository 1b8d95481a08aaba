"""Writing a tip with a small base model: a few-shot completion prompt, several samples, strict checks.

The local model (Gemma 3 270M) is a base model: it continues text, copies its examples and invents facts. So it gets
a "Facts: ... / Tip: ..." completion prompt whose examples come first from the person's own good tips, and every
sample must pass :func:`problems` (length, novelty, no repeat, grounding), then, given an embedder, read well
(:mod:`.sense`) and be no paraphrase of a recent tip or of an example, before it may be returned. When no sample
passes, :func:`write_with` returns None and the caller falls back to the composer: an unfaithful tip is never shown.

Variety: the samples' seeds follow from the person's recent tips and the lead's line closes the facts, so a new tip
is drawn afresh rather than the same first sample of the same prompt each time.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oo_app.llm.aliases import LOCAL_EMBEDDING_MODEL, LOCAL_PROVIDER, LOCAL_TIP_MODEL, SAMPLES_DRAWN
from oo_app.llm.local import LocalSampler, encode
from oo_app.llm.router import Provider, answer
from oo_app.recommender.composer import TipDraft, normalized
from oo_app.recommender.dedup import is_near_duplicate
from oo_app.recommender.guardrails import check_failures
from oo_app.recommender.prompts import facts_from
from oo_app.recommender.sense import Embed, sense_failure

if TYPE_CHECKING:
    import litellm
    from litellm import CustomLLM

log = logging.getLogger(__name__)

SAMPLES = 4
MAX_EXAMPLES = 3

# Used when the person has no good tips of their own yet; written in the voice oO wants, grounded in their facts.
STATIC_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "It is 09:00 on Monday; they get most done around 10:00 (peak hours 09:00, 10:00, 11:00). "
        "Completed 9 tasks in the last 7 days, above their usual 3.1/day: momentum is rising.",
        "Your best hours run until 11:00: start the hardest task now.",
    ),
    (
        "It is 21:30 on Friday, inside their quiet hours (21:00-07:00). "
        "They usually finish tasks about 1.0 day after the due date.",
        "Rest now; choose tomorrow's first task in the morning.",
    ),
    (
        "It is 15:00 on Sunday; they get most done around 16:00. "
        "Their main areas: Home (30 done), then Work (12 done).",
        "Before 16:00, pick one Home task you can finish today.",
    ),
)


@dataclass(frozen=True)
class Example:
    facts: str
    tip: str


def fact_lines(facts: Mapping[str, Any]) -> list[str]:
    """The snippet lines of a prompt's facts, in a stable order, the chosen lead's line last (a small model speaks
    most of what it read last)."""
    lines = facts.get("lines") or {}
    lead = (facts.get("choice") or {}).get("lead")
    return [str(lines[agent_id]) for agent_id in sorted(lines, key=lambda agent_id: (agent_id == lead, agent_id))]


def examples_from(facts: Mapping[str, Any]) -> list[Example]:
    """The person's own good tips (with the facts they were written from) first, then the static ones."""
    own = [Example(str(e["facts"]), str(e["tip"])) for e in facts.get("examples") or [] if e.get("facts")]
    return (own + [Example(f, t) for f, t in STATIC_EXAMPLES])[:MAX_EXAMPLES]


def few_shot_prompt(lines: Sequence[str], examples: Sequence[Example]) -> str:
    shots = "".join(f"Facts: {example.facts}\nTip: {example.tip}\n\n" for example in examples)
    return f"{shots}Facts: {' '.join(lines)}\nTip:"


def problems(candidate: str, lines: Sequence[str], recent: Sequence[str], examples: Sequence[Example]) -> list[str]:
    """Why ``candidate`` may not be shown (empty when it may): the guardrail checks, and no copied example."""
    found = check_failures(candidate, lines, recent)
    if normalized(candidate) in {normalized(example.tip) for example in examples}:
        found.append("copies an example")
    return found


def first_seed(recent: Sequence[str]) -> int:
    """Where this tip's seeds start: a function of the recent tips, so the next tip never redraws the last one's."""
    return int.from_bytes(hashlib.sha256("\n".join(recent).encode()).digest()[:3], "big")


def unread_problems(candidate: str, recent: Sequence[str], examples: Sequence[Example], embed: Embed) -> list[str]:
    """What the embedder finds wrong with ``candidate``: it reads badly, or it paraphrases a recent tip or an example
    (a generic line the model keeps writing)."""
    found = []
    senseless = sense_failure(candidate, embed)
    if senseless:
        found.append(senseless)
    if is_near_duplicate(candidate, [*recent, *(example.tip for example in examples)], embed):
        found.append("paraphrases a recent tip or an example")
    return found


def write_with(
    generate: Callable[[str, int], str],
    facts: Mapping[str, Any],
    samples: int = SAMPLES,
    embed: Embed | None = None,
) -> tuple[TipDraft | None, int]:
    """Sample up to ``samples`` tips from ``generate(prompt, seed)``; the first that passes every check (with
    ``embed``, :func:`unread_problems` too), and how many samples were drawn. (None, n) when none passed."""
    lines = fact_lines(facts)
    if not lines:
        return None, 0
    examples = examples_from(facts)
    prompt = few_shot_prompt(lines, examples)
    recent = [str(tip) for tip in facts.get("recent_tips") or []]
    start = first_seed(recent)
    for drawn in range(1, samples + 1):
        candidate = generate(prompt, start + drawn - 1).strip()
        found = problems(candidate, lines, recent, examples)
        if not found and embed is not None:
            found = unread_problems(candidate, recent, examples, embed)
        if not found:
            return TipDraft(text=candidate), drawn
        log.info("local sample %d of %d overruled: %s", drawn, samples, "; ".join(_kinds(found)))
    return None, samples


def _kinds(found: Sequence[str]) -> list[str]:
    """The problems without their details (an ungrounded term is a piece of the draft: never above DEBUG)."""
    return [problem.split(":", 1)[0] for problem in found]


def untraced_embed() -> Embed | None:
    """The embedder the local writer checks its samples with, from inside the provider: the local encoder itself
    when the ``embedder`` alias is the local one. Never a call through the alias: a LiteLLM call made inside a
    provider is traced outside the person's span, so its trace would carry their tip without their id (and escape
    the deletion of their traces). With another embedder configured: None, and the samples are read only by the
    orchestrator's sense check, in the person's span, after the provider answers."""
    from oo_app.llm.aliases import EMBEDDER
    from oo_app.settings import get_settings

    deployments = get_settings().alias_table.get(EMBEDDER) or []
    local = bool(deployments) and all(d.get("model") == LOCAL_EMBEDDING_MODEL for d in deployments)
    return encode if local else None


def local_provider() -> Provider:
    """The ``oo-local`` custom provider: the local models (in this process, or the host's model process), Gemma 3 270M
    behind ``tip-generator`` (few-shot, checked samples: :func:`write_with`) and the sentence encoder behind
    ``embedder``."""

    def handler() -> CustomLLM:
        import litellm
        from litellm import CustomLLM

        class LocalModels(CustomLLM):
            """The local models: Gemma 3 270M behind ``tip-generator`` (few-shot, checked samples) and the sentence
            encoder behind ``embedder``."""

            def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
                if model != LOCAL_TIP_MODEL.split("/", 1)[1]:
                    raise ValueError(f"no local text model {model!r}")
                sampler = LocalSampler()
                draft, drawn = write_with(sampler, facts_from(messages, kwargs), embed=untraced_embed())
                if draft is None:
                    # The Router falls back to the composer: an unchecked tip never leaves this provider.
                    raise litellm.exceptions.APIError(
                        status_code=422,
                        message=f"no grounded tip in {drawn} samples",
                        llm_provider=LOCAL_PROVIDER,
                        model=model,
                    )
                content = json.dumps(draft.model_dump(mode="json"))
                response = answer(LOCAL_TIP_MODEL, content, sampler.prompt_tokens, sampler.completion_tokens)
                response._hidden_params[SAMPLES_DRAWN] = drawn
                return response

            async def acompletion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
                import asyncio

                return await asyncio.to_thread(self.completion, *args, **kwargs)

            def embedding(
                self, model: str, input: list, model_response: litellm.EmbeddingResponse, *args: Any, **kwargs: Any
            ) -> litellm.EmbeddingResponse:
                if model != LOCAL_EMBEDDING_MODEL.split("/", 1)[1]:
                    raise ValueError(f"no local embedding model {model!r}")
                vectors = encode([str(text) for text in input])
                model_response.data = [
                    {"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)
                ]
                model_response.model = LOCAL_EMBEDDING_MODEL
                model_response.usage = litellm.Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
                return model_response

            async def aembedding(self, *args: Any, **kwargs: Any) -> litellm.EmbeddingResponse:
                import asyncio

                return await asyncio.to_thread(self.embedding, *args, **kwargs)

        return LocalModels()

    return Provider(LOCAL_PROVIDER, handler)
