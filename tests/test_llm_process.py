"""The LLM in a process of its own: the same tokens as in a thread of the server, a clear error when its model
cannot load, and a process that died is started again for the next turns."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from serving.bot.llm_process import LlmProcess, LlmProcessError
from serving.bot.llm_stage import LlmStage
from serving.bot.turn import Turn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = ["what is two plus two", "ok", "tell me something about the history of jazz music, in detail", "hi there"]


def _turn(text: str) -> Turn:
    turn = Turn(session_id="s", text=text, clean=text)
    turn.route = "llm"
    return turn


def _answers(stage: LlmStage) -> list[str]:
    """The texts' answers, asked from threads at once (so that they share the running batch)."""
    turns = [_turn(t) for t in TEXTS]
    threads = [threading.Thread(target=stage, args=(t,)) for t in turns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return [t.answer for t in turns]


@pytest.fixture(scope="module")
def process(tiny_llm):
    engine = LlmProcess(tiny_llm, threads=1).start()
    yield engine
    engine.close()


def test_the_llm_in_its_own_process_answers_what_it_answers_in_a_thread(tiny_llm, process):
    from serving.llm_runtime import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llm)
    in_thread = LlmStage(model, tokenizer, "You are a test bot.", max_new_tokens=10)
    apart = LlmStage(process, tokenizer, "You are a test bot.", max_new_tokens=10)
    # one at a time: the batch's make-up cannot move any number
    alone = [in_thread(_turn(t)).answer for t in TEXTS]
    assert [apart(_turn(t)).answer for t in TEXTS] == alone
    assert any(alone) and len(set(alone)) > 1
    assert _answers(apart) == _answers(in_thread)
    assert process.generation_config.eos_token_id is not None
    assert process.alive and process._proc.pid != os.getpid()


def test_a_process_that_died_fails_the_turns_in_flight_and_is_started_again(tiny_llm):
    from transformers import AutoTokenizer

    engine = LlmProcess(tiny_llm, threads=1).start()
    try:
        stage = LlmStage(engine, AutoTokenizer.from_pretrained(tiny_llm), "You are a test bot.", max_new_tokens=8)
        first = stage(_turn("hi there")).answer
        time.sleep(1)  # the worker cuts the finished row from the batch after the answer ends: let it, first
        pid = engine._proc.pid
        os.kill(pid, signal.SIGKILL)
        engine._proc.join(timeout=10)
        with pytest.raises(LlmProcessError, match="died"):
            stage(_turn("hi there"))
        assert stage(_turn("hi there")).answer == first
        assert engine.alive and engine._proc.pid != pid
    finally:
        engine.close()
    assert not engine.alive


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path, tiny_llm):
    import shutil

    broken = tmp_path / "llm"
    shutil.copytree(tiny_llm, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    engine = LlmProcess(broken, threads=1).start()
    try:
        with pytest.raises(LlmProcessError, match=f"could not load {broken}: .*header"):
            engine.wait_ready()
        engine._proc.join(timeout=10)
        assert not engine.alive
    finally:
        engine.close()


def test_a_tokenizer_without_a_chat_template_fails_the_turn_instead_of_stalling_the_llm(tiny_llm):
    from serving.llm_runtime import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llm)
    tokenizer.chat_template = None
    stage = LlmStage(model, tokenizer, "You are a test bot.", max_new_tokens=4)
    errors = []

    def ask():
        try:
            stage(_turn("hi"))
        except Exception as exc:  # noqa: BLE001 - what the test looks at
            errors.append(exc)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the turn waited for an LLM worker that had died"
    assert len(errors) == 1 and "chat template" in str(errors[0])
