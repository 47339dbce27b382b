"""LLM-core assets: the teacher's dialog corpus (distillation, quantization and llm_eval build on it)."""

import json

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from pipelines.resources import DvcResource
from training.dialog_corpus import (
    SYSTEM_PROMPT,
    DialogCorpusConfig,
    build_corpus,
    read_corpus,
    sample_user_turns,
    teacher_replies,
    write_corpus,
)
from training.fileio import sha256_dir, stable_hash
from training.intent_dataset import load_split

GROUP = "llm"
_DIALOG = DialogCorpusConfig()


class DialogCorpusAssetConfig(Config):
    per_intent: int = _DIALOG.per_intent
    heldout_fraction: float = _DIALOG.heldout_fraction
    max_new_tokens: int = _DIALOG.max_new_tokens
    batch_size: int = _DIALOG.batch_size
    seed: int = _DIALOG.seed


@asset(group_name=GROUP, compute_kind="transformers")
def dialog_corpus(context: AssetExecutionContext, config: DialogCorpusAssetConfig, base_llm: dict,
                  intent_dataset: dict, dvc: DvcResource) -> MaterializeResult:
    """Domain dialogs under data/dialogs: user turns from the intent data, replies by the teacher."""
    cfg = DialogCorpusConfig(config.per_intent, config.heldout_fraction, config.max_new_tokens,
                             config.batch_size, config.seed)
    key = stable_hash([intent_dataset["content_sha256"], base_llm["checksum"], cfg.__dict__, SYSTEM_PROMPT])
    target = dvc.data_path / "dialogs"
    card_path = target / "corpus_card.json"
    if card_path.exists() and json.loads(card_path.read_text()).get("key") == key:
        context.log.info("dialog corpus is up to date (same intent data, teacher and config)")
    else:
        # user turns come from the intent training split only: intent test rows stay unseen
        turns = sample_user_turns(load_split(intent_dataset["path"], "train"), cfg.per_intent, cfg.seed)
        replies = teacher_replies(base_llm["path"], [t["user"] for t in turns], cfg)
        corpus = build_corpus(turns, replies, cfg)
        write_corpus(corpus, target, {"key": key, "teacher": base_llm["spec"], "teacher_sha256": base_llm["checksum"],
                                      "config": cfg.__dict__, "empty_replies_dropped": len(turns) - sum(map(len, corpus.values()))})
    version = dvc.commit_data()
    counts = {s: len(read_corpus(target, s)) for s in ("train", "heldout")}
    sample = read_corpus(target, "heldout")[:3]
    return MaterializeResult(
        value={"path": str(target), "data_version": version, "content_sha256": sha256_dir(target)},
        metadata={"data_version": version, "dialogs_train": counts["train"], "dialogs_heldout": counts["heldout"],
                  "path": MetadataValue.path(str(target)),
                  "sample": MetadataValue.md("\n\n".join(
                      f"**user:** {r['messages'][1]['content']}  \n**teacher:** {r['messages'][2]['content']}"
                      for r in sample))},
    )
