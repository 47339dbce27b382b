"""Feedback intake (schema, quarantine, PII redaction), preference pairs, and DPO with a LoRA adapter on
a tiny Llama built from a config."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.tiny_models import build_tiny_llm
from training.dpo import DpoRunConfig, implicit_rewards, load_policy, merge_adapter, preference_accuracy, train_dpo_adapter
from training.errors import DataValidationError
from training.feedback import read_feedback, synthetic_feedback, write_feedback
from training.pii import redact
from training.preferences import build_pairs, write_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PII = {
    "email": "ana.silva@example.com",
    "phone": "+1 415 555 0134",
    "card": "4111 1111 1111 1111",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "name": "Kofi Mensah",
}



@pytest.mark.parametrize("text,label", [
    (f"mail me at {PII['email']}", "EMAIL"), (f"call {PII['phone']} after six", "PHONE"),
    (f"card {PII['card']}", "CARD"), (f"my IBAN is {PII['iban']}", "IBAN"),
    (f"Hi, my name is {PII['name']}.", "NAME"), ("Thanks, Priya", "NAME"), ("Dr. Haddad is my doctor", "NAME"),
])
def test_redaction_replaces_each_kind(text, label):
    out = redact(text)
    assert out.counts.get(label) == 1, out
    assert f"[{label}]" in out.text


@pytest.mark.parametrize("text", ["book 2 tickets for 120 dollars on 2026-12-01", "I'm fine, thanks",
                                  "set an alarm for 7 am", "my flight is LH 1234"])
def test_redaction_leaves_ordinary_text_alone(text):
    assert redact(text).text == text


def _line(**over):
    record = {"session_id": "s-1", "user_input": "reset my password", "bot_response": "Your password is hunter2.",
              "corrected_response": "I've sent you a reset link.", "timestamp": "2026-11-20T14:03:11Z"}
    record.update(over)
    return json.dumps({k: v for k, v in record.items() if v is not ...})


def test_malformed_rows_are_quarantined_with_line_field_and_reason(tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join([
        _line(), _line(corrected_response=...), _line(timestamp=1732550400), _line(corrected_response="   "),
        _line(corrected_response="Your password is  hunter2."), _line(timestamp="yesterday"), _line(user_input=7),
    ]) + "\n")
    batch = read_feedback([path])
    assert len(batch.records) == 1
    got = [(q["line"], q["field"], q["reason"]) for q in batch.quarantined]
    assert got == [(2, "corrected_response", "missing"), (3, "timestamp", "wrong type (int, expected string)"),
                   (4, "corrected_response", "empty"), (5, "corrected_response", "identical to bot_response"),
                   (6, "timestamp", "not an ISO 8601 timestamp"), (7, "user_input", "wrong type (int, expected string)")]
    assert batch.stats()["quarantined"] == 6


def test_a_file_that_is_not_jsonl_names_the_line(tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text(_line() + "\nsession,user_input\n")
    with pytest.raises(DataValidationError, match=r"feedback.jsonl, row 2: not a JSON object"):
        read_feedback([path])


def test_no_raw_pii_reaches_records_pairs_or_quarantine(tmp_path):
    tail = f" My name is {PII['name']}, mail {PII['email']}, phone {PII['phone']}, card {PII['card']}, IBAN {PII['iban']}."
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join([_line(user_input="reset my password." + tail),
                               _line(session_id="s-2", user_input="refund please" + tail, corrected_response=...),
                               _line(session_id="s-3", corrected_response="Sure " + PII["name"] + ", done. " + tail)])
                    + "\n")
    batch = read_feedback([path])
    splits, _ = build_pairs(batch.records)
    out = write_pairs(splits, tmp_path / "preferences", {"redactions": batch.redactions})
    write_feedback(batch.records, tmp_path / "clean.jsonl")
    blob = json.dumps(batch.quarantined) + (tmp_path / "clean.jsonl").read_text()
    blob += "".join(p.read_text() for p in out.iterdir())
    for kind, value in PII.items():
        assert value not in blob, kind
        assert value.replace(" ", "") not in blob.replace(" ", ""), kind
    assert batch.redactions["EMAIL"] == 2 and batch.redactions["CARD"] == 2


def test_synthetic_feedback_makes_deduplicated_prompt_disjoint_pairs(tmp_path):
    path = tmp_path / "feedback.jsonl"
    lines = synthetic_feedback(300, seed=3)
    path.write_text("\n".join(lines + lines[:20]) + "\n")  # 20 exact repeats
    batch = read_feedback([path])
    assert 0 < len(batch.quarantined) < 40
    splits, duplicates = build_pairs(batch.records)
    assert duplicates >= 20 - sum(1 for q in batch.quarantined if q["line"] > 300)
    prompts = {s: {p["prompt"][0]["content"].lower() for p in splits[s]} for s in splits}
    assert not prompts["train"] & prompts["heldout"]
    # whole scenarios are held out: a slot-filled sibling of a held-out request is never trained on
    groups = {s: {p["group"] for p in splits[s]} for s in splits}
    assert groups["heldout"] and not groups["train"] & groups["heldout"]
    assert 0.1 < len(splits["heldout"]) / (len(splits["train"]) + len(splits["heldout"])) < 0.4
    again, _ = build_pairs(read_feedback([path]).records)
    assert again == splits


def test_prompts_without_a_group_are_grouped_with_their_slot_filled_siblings():
    from training.feedback import Feedback

    def record(i, prompt):
        return Feedback(f"s{i}", prompt, "no", f"yes {i}", f"2026-11-01T00:{i:02d}:00Z")

    records = [record(i, f"what's the weather in city{i} on the {i}th") for i in range(10)]
    records += [record(20 + i, text) for i, text in enumerate(
        ["cancel my subscription", "reset my password", "why was i charged twice", "book a table for two",
         "play some jazz", "how do i pay my bill", "what can you do", "turn off the lights"])]
    splits, _ = build_pairs(records)
    weather = {s for s in splits for p in splits[s] if "weather" in p["prompt"][0]["content"]}
    assert len(weather) == 1 and splits["heldout"]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    torch.manual_seed(0)
    return build_tiny_llm(tmp_path_factory.mktemp("dpo_base"), hidden=64, layers=2, vocab_size=2048)


def test_dpo_adapter_learns_the_corrections_and_merges(tiny_base, tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(synthetic_feedback(80, seed=1, malformed_fraction=0.0)) + "\n")
    splits, _ = build_pairs(read_feedback([path]).records)
    cfg = DpoRunConfig(overrides={"max_steps": 12, "learning_rate": 5e-3, "per_device_train_batch_size": 8,
                                  "eval_steps": 6, "save_steps": 6, "logging_steps": 2, "max_length": 96})
    logged = []
    out = train_dpo_adapter(tiny_base, splits["train"], splits["heldout"], tmp_path / "work", cfg,
                            metrics_sink=lambda m, step: logged.append(m))
    assert (out.adapter_dir / "adapter_config.json").exists() and (out.adapter_dir / "adapter_model.safetensors").exists()
    assert any("rewards/margins" in m for m in logged) and any("rewards/accuracies" in m for m in logged)

    # every LoRA matrix moved (B starts at zero, so an untrained adapter has all-zero B)
    lora = load_file(out.adapter_dir / "adapter_model.safetensors")
    assert lora and all(float(t.abs().sum()) > 0 for k, t in lora.items() if "lora_B" in k)

    # the policy prefers the corrections it was trained on; held-out pairs are whole unseen scenarios, which a
    # tiny random model cannot generalise to (the packaged model's held-out figure is in docs/benchmarks.md)
    model, tokenizer = load_policy(tiny_base, out.adapter_dir)
    rewards = implicit_rewards(model, tokenizer, splits["train"], beta=0.1, max_length=96)
    assert preference_accuracy(rewards) >= 0.85

    merged = merge_adapter(tiny_base, out.adapter_dir, tmp_path / "merged")
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(merged).eval()
    x = tokenizer("reset my password please", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(plain(x).logits, model(input_ids=x).logits, atol=1e-4)

    resumed = train_dpo_adapter(tiny_base, splits["train"], splits["heldout"], tmp_path / "work", cfg)
    assert resumed.resumed_from and resumed.resumed_from.endswith("checkpoint-12")


def test_a_completion_cut_away_by_max_length_is_an_error_not_a_zero(tiny_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.dpo import implicit_rewards

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    pair = {"prompt": [{"role": "user", "content": "a rather long request " * 10}],
            "chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]}
    with pytest.raises(ValueError, match="raise max_length"):
        implicit_rewards(model, tokenizer, [pair], beta=0.1, max_length=8)
