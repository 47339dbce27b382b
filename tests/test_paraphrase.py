"""The local LLM paraphraser on a tiny Llama built from a config (real chat template, batching)."""

from training.paraphrase import LocalLLMParaphraser, build_messages, clean_generation


def test_local_paraphraser_returns_n_candidates_per_input(tiny_llm):
    p = LocalLLMParaphraser(str(tiny_llm), batch_size=2, max_new_tokens=6)
    out = p.paraphrase(["book a flight to Paris", "hello", "reset my password"], n=2)
    assert len(out) == 3 and all(len(c) == 2 for c in out)
    assert all(isinstance(t, str) and "\n" not in t for c in out for t in c)


def test_prompt_and_cleanup():
    msgs = build_messages("set a timer for 5 minutes")
    assert msgs[0]["role"] == "system" and msgs[-1]["content"].endswith("set a timer for 5 minutes")
    assert clean_generation('"wake me at 7"\nSure, anything else?') == "wake me at 7"
    assert clean_generation("   ") == ""
