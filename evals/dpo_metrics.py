"""DPO evaluation on held-out preference pairs.

- preference accuracy: the policy's implicit reward ranks the correction above the original answer
  (`training.dpo.implicit_rewards`);
- movement toward the corrections: for each held-out prompt, the base model and the policy each
  answer greedily; an answer's closeness to the correction is its rapidfuzz token-set similarity
  (0-100). `moved_toward_rate` is the share of prompts where the policy's answer is closer to the
  correction than the base model's; `mean_gain` the mean difference in closeness.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from training.dpo import implicit_rewards, preference_accuracy


def closeness(answer: str, target: str) -> float:
    return float(fuzz.token_set_ratio(answer.lower(), target.lower()))


def movement(base_answers: list[str], policy_answers: list[str], corrections: list[str]) -> dict[str, float]:
    if not corrections or not (len(base_answers) == len(policy_answers) == len(corrections)):
        raise ValueError("need one base answer, one policy answer and one correction per prompt")
    base = [closeness(a, c) for a, c in zip(base_answers, corrections)]
    policy = [closeness(a, c) for a, c in zip(policy_answers, corrections)]
    return {"moved_toward_rate": sum(p > b for p, b in zip(policy, base)) / len(corrections),
            "mean_gain": sum(p - b for p, b in zip(policy, base)) / len(corrections),
            "base_closeness": sum(base) / len(base), "policy_closeness": sum(policy) / len(policy)}


def evaluate_dpo(model, tokenizer, pairs: list[dict], beta: float, max_new_tokens: int = 48,
                 max_generate: int = 24, max_length: int = 256) -> dict:
    """Metrics for a PeftModel policy (its adapter-free base is the reference)."""
    from serving.llm_runtime import generate_greedy

    rewards = implicit_rewards(model, tokenizer, pairs, beta, max_length)
    margins = [c - r for c, r in rewards]
    sample = pairs[:max_generate]
    prompts = [p["prompt"] for p in sample]
    policy_answers, _, _ = generate_greedy(model, tokenizer, prompts, max_new_tokens, batch_size=8)
    with model.disable_adapter():
        base_answers, _, _ = generate_greedy(model, tokenizer, prompts, max_new_tokens, batch_size=8)
    moved = movement(base_answers, policy_answers, [p["chosen"][0]["content"] for p in sample])
    examples = [{"prompt": p["prompt"][0]["content"], "correction": p["chosen"][0]["content"],
                 "base": b, "policy": a} for p, b, a in zip(sample[:5], base_answers, policy_answers)]
    return {"preference_accuracy": preference_accuracy(rewards), "mean_margin": sum(margins) / len(margins),
            "n_pairs": len(pairs), "n_generated": len(sample), **moved, "examples": examples}
