"""LLM metrics: perplexity on the assistant replies of dialogs, and the peak memory of a call."""

from __future__ import annotations

import gc
import math
import os
import threading
import time
from typing import Any, Callable

from training.distill import IGNORE_INDEX, PadCollator, tokenize_dialogs


def perplexity(model, tokenizer, records: list[dict], max_length: int = 256, batch_size: int = 8) -> float:
    """exp(mean negative log-likelihood) over the final assistant reply tokens of `records`.

    The records are the dialogs `training.distill.tokenize_dialogs` reads (prompt tokens are masked,
    so only the reply is scored, end-of-turn token included). Tokens are pooled over all records
    (a long reply weighs more than a short one). Works for plain and int8 models alike.
    """
    import torch
    import torch.nn.functional as F

    features = tokenize_dialogs(records, tokenizer, max_length, "perplexity records")
    if not features:
        raise ValueError("no dialog to score (empty records, or every reply cut by max_length)")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collate = PadCollator(pad_id)
    model.eval()
    nll, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            batch = collate(features[start:start + batch_size])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            target = batch["labels"][:, 1:]
            mask = target != IGNORE_INDEX
            nll += float(F.cross_entropy(logits[:, :-1][mask].float(), target[mask], reduction="sum"))
            count += int(mask.sum())
    return math.exp(nll / count)


def _rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_memory_mb(fn: Callable[[], Any], interval_s: float = 0.005) -> tuple[float, Any]:
    """(peak resident-memory increase in MiB while `fn()` runs, its result).

    Python's tracemalloc does not see torch's allocations (they bypass the Python allocator), so this
    measures the process's resident set size (RSS):
    - on Linux the kernel's peak-RSS mark is reset first (`/proc/self/clear_refs` <- 5) and read after
      (`VmHWM`), which catches every spike;
    - elsewhere a thread samples RSS every `interval_s` (psutil), which can miss spikes shorter than
      that.
    The increase is measured from the RSS just before the call. It covers the whole process (other
    threads too) and includes memory the allocator keeps cached, and pages already resident (e.g.
    weights loaded before) do not count again. Garbage is collected first, so that objects freed by a
    collection during `fn` do not hide its own allocations. For an isolated figure, run it in a fresh
    subprocess.
    """
    gc.collect()
    use_hwm = os.name == "posix" and _reset_peak_rss() and _peak_rss_bytes() is not None
    baseline = _rss_bytes()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(interval_s)

    sampler = None
    if not use_hwm:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    try:
        result = fn()
    finally:
        if sampler is not None:
            stop.set()
            sampler.join()
    top = max(peak[0], _rss_bytes())
    if use_hwm:
        top = max(top, _peak_rss_bytes() or 0)
    return max(0.0, (top - baseline) / 2**20), result
