"""LLM paraphrasers for synthetic utterances: a local causal LM (batched) or an OpenAI-compatible API."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from tqdm.auto import tqdm

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You rewrite requests that users send to a voice assistant. Reply with exactly one rewritten "
    "request, in the user's voice, with the same meaning. Keep every name, place, date, time and "
    "number. No explanations, no quotes."
)
FEW_SHOT = [
    ("set an alarm for 7 am", "wake me up at 7 am"),
    ("what's my account balance", "how much money do i have in my account"),
    ("book a hotel in Rome on Friday", "i need a hotel room in Rome on Friday"),
]


def build_messages(utterance: str) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for src, dst in FEW_SHOT:
        messages += [{"role": "user", "content": f"Rewrite: {src}"}, {"role": "assistant", "content": dst}]
    messages.append({"role": "user", "content": f"Rewrite: {utterance}"})
    return messages


def clean_generation(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.strip().strip("\"'“”").strip()


class Paraphraser(Protocol):
    def paraphrase(self, utterances: list[str], n: int) -> list[list[str]]:
        """Return n candidate rewrites per utterance (unfiltered)."""


@dataclass
class LocalLLMParaphraser:
    """Samples rewrites from a local causal LM with its chat template, in padded batches."""

    model_path: str
    batch_size: int = 16
    max_new_tokens: int = 32
    temperature: float = 0.9
    top_p: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch.float32).eval()

    def _prompt(self, utterance: str) -> str:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(build_messages(utterance), tokenize=False, add_generation_prompt=True)
        return f"{SYSTEM_PROMPT}\nRewrite: {utterance}\nAnswer:"

    def paraphrase(self, utterances: list[str], n: int) -> list[list[str]]:
        torch = self._torch
        torch.manual_seed(self.seed)
        out: list[list[str]] = []
        for start in tqdm(range(0, len(utterances), self.batch_size), desc="paraphrasing", unit="batch"):
            batch = utterances[start : start + self.batch_size]
            enc = self.tokenizer([self._prompt(u) for u in batch], return_tensors="pt", padding=True)
            with torch.no_grad():
                gen = self.model.generate(
                    **enc, do_sample=True, temperature=self.temperature, top_p=self.top_p,
                    max_new_tokens=self.max_new_tokens, num_return_sequences=n,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            texts = self.tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i in range(len(batch)):
                out.append([clean_generation(t) for t in texts[i * n : (i + 1) * n]])
        return out


@dataclass
class OpenAICompatibleParaphraser:
    """Calls any OpenAI-compatible `/chat/completions` endpoint (vLLM, TGI, llama.cpp server, OpenAI)."""

    base_url: str
    model: str
    api_key: str = ""
    temperature: float = 0.9
    timeout_s: float = 60.0

    def paraphrase(self, utterances: list[str], n: int) -> list[list[str]]:
        import requests

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.base_url.rstrip("/") + "/chat/completions"
        out = []
        for u in tqdm(utterances, desc="paraphrasing", unit="utt"):
            resp = requests.post(url, headers=headers, timeout=self.timeout_s, json={
                "model": self.model, "messages": build_messages(u), "n": n,
                "temperature": self.temperature, "max_tokens": 48,
            })
            resp.raise_for_status()
            out.append([clean_generation(c["message"]["content"]) for c in resp.json()["choices"]])
        return out
