"""Generation speed and peak memory of one LLM configuration, measured in a fresh process.

Peak resident memory is only meaningful per process (freed tensors stay mapped, weights loaded
earlier are already resident), so each configuration -- teacher alone, student, int8 student,
teacher with the int8 student as draft -- runs in its own interpreter:

    python -m evals.llm_profile MODEL_DIR PROMPTS.json --max-new-tokens 48 [--draft DRAFT_DIR --draft-tokens 5]

and prints one JSON object: tokens_per_s, new_tokens, seconds, peak_rss_mb (load and generation,
above the interpreter's RSS after imports), load_s and the generated token ids (so that outputs of
two configurations can be compared token for token).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence


def profile_generation(model_dir: str, prompts: Sequence, max_new_tokens: int, draft_dir: str | None = None,
                       threads: int | None = None, warmup: bool = True, draft_tokens: int | None = None) -> dict:
    import torch

    from evals.llm_metrics import peak_memory_mb
    from serving.llm_runtime import generate_greedy, load_causal_lm

    if threads:
        torch.set_num_threads(threads)

    def load_and_generate():
        start = time.perf_counter()
        model, tokenizer = load_causal_lm(model_dir)
        draft = load_causal_lm(draft_dir)[0] if draft_dir else None
        load_s = time.perf_counter() - start
        if warmup:  # first calls pay for lazy init (kernels, caches); not part of steady-state speed
            generate_greedy(model, tokenizer, list(prompts)[:1], 4, assistant_model=draft, draft_tokens=draft_tokens)
        _, ids, stats = generate_greedy(model, tokenizer, prompts, max_new_tokens, assistant_model=draft,
                                        draft_tokens=draft_tokens)
        return load_s, ids, stats

    peak_mb, (load_s, ids, stats) = peak_memory_mb(load_and_generate)
    return {"model": str(model_dir), "draft": str(draft_dir) if draft_dir else None, "draft_tokens": draft_tokens,
            "load_s": load_s,
            "peak_rss_mb": peak_mb, "threads": torch.get_num_threads(), "token_ids": ids,
            **{k: stats[k] for k in ("prompts", "new_tokens", "seconds", "tokens_per_s")}}


def profile_in_subprocess(model_dir: str | Path, prompts: Sequence, max_new_tokens: int,
                          draft_dir: str | Path | None = None, threads: int | None = None,
                          timeout_s: float = 3600, draft_tokens: int | None = None) -> dict:
    """`profile_generation` in a fresh interpreter; raises with its stderr when it fails."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        prompt_file = Path(tmp) / "prompts.json"
        prompt_file.write_text(json.dumps(list(prompts)))
        cmd = [sys.executable, "-m", "evals.llm_profile", str(model_dir), str(prompt_file),
               "--max-new-tokens", str(max_new_tokens)]
        if draft_dir:
            cmd += ["--draft", str(draft_dir)]
        if draft_dir and draft_tokens:
            cmd += ["--draft-tokens", str(draft_tokens)]
        if threads:
            cmd += ["--threads", str(threads)]
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"profiling {model_dir} (draft {draft_dir}) failed:\n{proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("prompts", help="JSON list of prompts (strings or message lists)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--draft", default=None)
    parser.add_argument("--draft-tokens", type=int, default=None,
                        help="tokens the draft proposes per target call (default: the draft's generation_config)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    prompts = json.loads(Path(args.prompts).read_text())
    print(json.dumps(profile_generation(args.model_dir, prompts, args.max_new_tokens, args.draft, args.threads,
                                        draft_tokens=args.draft_tokens)))


if __name__ == "__main__":
    main()
