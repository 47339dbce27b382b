"""The LLM core's evaluation: teacher, distilled student, int8 student and teacher+draft side by side.

The draft is the int8 student (the cheapest model that shares the teacher's tokenizer) unless another
int8 folder is given (the int8 teacher: quantized self-speculation), proposing `num_draft_tokens`
tokens per teacher call.

- perplexity on the held-out dialogs' replies for teacher, student and int8 student;
- the draft's acceptance rate along the teacher's greedy continuations;
- tokens/s and peak memory per configuration, each in a fresh process (`evals.llm_profile`);
- whether assisted generation reproduced the teacher's greedy tokens exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evals.llm_metrics import perplexity
from evals.llm_profile import profile_in_subprocess

TEACHER, STUDENT, INT8, SPECULATIVE = "teacher", "student", "student_int8", "teacher+int8_draft"


@dataclass(frozen=True)
class LlmEvalConfig:
    max_perplexity_dialogs: int = 64
    speed_prompts: int = 6
    max_new_tokens: int = 48
    num_draft_tokens: int = 3  # per teacher call (and in the acceptance replay); the fastest of 3/5/8 for the int8 student in docs/benchmarks.md
    max_length: int = 256
    threads: int | None = None  # per profiling process; None = torch's default


def prompts_of(records: list[dict]) -> list[list[dict]]:
    """Each dialog without its final reply: the messages the model answers."""
    return [r["messages"][:-1] for r in records]


def evaluate_llm_core(teacher_dir: str | Path, student_dir: str | Path, int8_dir: str | Path,
                      heldout: list[dict], cfg: LlmEvalConfig = LlmEvalConfig(),
                      draft_dir: str | Path | None = None) -> dict:
    """{"models": {name: metrics}, "acceptance": {...}, "speculative_identical": bool, ...}.

    `draft_dir`: the draft for speculative decoding; default the int8 student (`int8_dir`).
    """
    from serving.llm_runtime import acceptance_rate, load_causal_lm

    if not heldout:
        raise ValueError("no held-out dialogs to evaluate on")
    scored = heldout[: cfg.max_perplexity_dialogs]
    prompts = prompts_of(heldout[: cfg.speed_prompts])
    draft_dir = Path(draft_dir or int8_dir)

    models: dict[str, dict] = {TEACHER: {}, STUDENT: {}, INT8: {}, SPECULATIVE: {}}
    for name, path in ((TEACHER, teacher_dir), (STUDENT, student_dir), (INT8, int8_dir)):
        model, tokenizer = load_causal_lm(path)
        models[name]["perplexity"] = perplexity(model, tokenizer, scored, cfg.max_length)
        models[name]["parameters"] = sum(p.numel() for p in model.parameters())
        del model

    profiles = {
        TEACHER: profile_in_subprocess(teacher_dir, prompts, cfg.max_new_tokens, threads=cfg.threads),
        STUDENT: profile_in_subprocess(student_dir, prompts, cfg.max_new_tokens, threads=cfg.threads),
        INT8: profile_in_subprocess(int8_dir, prompts, cfg.max_new_tokens, threads=cfg.threads),
        SPECULATIVE: profile_in_subprocess(teacher_dir, prompts, cfg.max_new_tokens, draft_dir=draft_dir,
                                           threads=cfg.threads, draft_tokens=cfg.num_draft_tokens),
    }
    for name, prof in profiles.items():
        models[name].update(tokens_per_s=prof["tokens_per_s"], peak_rss_mb=prof["peak_rss_mb"],
                            new_tokens=prof["new_tokens"], load_s=prof["load_s"])
    identical = profiles[SPECULATIVE]["token_ids"] == profiles[TEACHER]["token_ids"]
    mismatched = sum(a != b for a, b in zip(profiles[SPECULATIVE]["token_ids"], profiles[TEACHER]["token_ids"]))

    teacher, tokenizer = load_causal_lm(teacher_dir)
    draft, _ = load_causal_lm(draft_dir)
    acceptance = acceptance_rate(teacher, draft, tokenizer, prompts, cfg.max_new_tokens, cfg.num_draft_tokens,
                                 target_token_ids=profiles[TEACHER]["token_ids"])

    t = models[TEACHER]
    return {
        "models": models,
        "acceptance": acceptance,
        "draft_dir": str(draft_dir),
        "speculative_identical": identical,
        "speculative_mismatched_prompts": mismatched,
        "ratios": {
            "speculative_speedup": models[SPECULATIVE]["tokens_per_s"] / t["tokens_per_s"],
            "student_speedup": models[STUDENT]["tokens_per_s"] / t["tokens_per_s"],
            "int8_speedup_vs_student": models[INT8]["tokens_per_s"] / models[STUDENT]["tokens_per_s"],
            "student_perplexity_ratio": models[STUDENT]["perplexity"] / t["perplexity"],
            "int8_perplexity_ratio": models[INT8]["perplexity"] / models[STUDENT]["perplexity"],
        },
        "config": cfg.__dict__,
        "n_perplexity_dialogs": len(scored),
        "n_speed_prompts": len(prompts),
    }


def flat_metrics(report: dict) -> dict[str, float]:
    """MLflow/Dagster-friendly flat metrics: `<model>.<metric>`, acceptance and ratios."""
    out: dict[str, float] = {}
    for name, metrics in report["models"].items():
        key = name.replace("+", "_plus_")
        out.update({f"{key}.{m}": float(v) for m, v in metrics.items()})
    out.update({f"draft.{k}": float(v) for k, v in report["acceptance"].items()})
    out.update({k: float(v) for k, v in report["ratios"].items()})
    out["speculative_identical"] = float(report["speculative_identical"])
    return out
