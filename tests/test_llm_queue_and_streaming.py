"""Serving under load: LLM turns wait in their own queue (intent-answered turns never queue behind them), a
streamed answer's first chunk leaves before the generation ends, and the brand's sign-off comes once."""

from __future__ import annotations

import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import pytest

from serving.bot.llm_stage import _END, phrases
from serving.bot.turn import Turn
from tests.servers import free_port


def test_phrases_cut_at_sentences_and_long_clauses_and_keep_every_word():
    pieces = ["Sure, ", "I can help. Paris is lovely, with ", "many museums, parks and small cafes; ",
              "call 555, 1234 for more", ".\nBye"]
    out = list(phrases(iter(pieces)))
    assert out == ["Sure, I can help.", "Paris is lovely, with many museums,", "parks and small cafes;",
                   "call 555, 1234 for more.", "Bye"]
    assert " ".join(out).split() == "".join(pieces).split()


def test_phrases_never_end_a_clause_after_a_digit():
    # a phone number split at its comma would reach the redactor in two halves
    assert list(phrases(iter(["my number is 555, 1234, thanks"]))) == ["my number is 555, 1234, thanks"]


class ScriptedBot:
    """Routes "llm ..." texts to the LLM route; its LLM turns block until `release` is set."""

    versions: dict = {}
    llm = SimpleNamespace(max_batch_size=8)

    def __init__(self):
        self.release = threading.Event()
        self.first_chunk_sent = threading.Event()

    def route(self, session_id, text):
        turn = Turn(session_id=session_id, text=text)
        turn.route, turn.intent, turn.confidence = ("llm", None, 0.2) if text.startswith("llm") else ("template", "greet", 0.9)
        return turn

    def finish(self, turn):
        if turn.route == "llm":
            assert self.release.wait(30)
        turn.answer = f"answer to {turn.text}"
        return turn

    def answer_chunks(self, turn):
        if turn.route != "llm":
            yield self.finish(turn).answer
            return
        yield "first."
        self.first_chunk_sent.set()
        assert self.release.wait(30)
        yield "second."
        turn.answer = "first. second."


@pytest.fixture()
def scripted_service(tmp_path):
    import uvicorn

    from serving.http.app import Settings, build_app

    app = build_app(Settings(bundle=str(tmp_path), verify_bundle=False))
    bot = ScriptedBot()
    app.state.convbot.attach(bot)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", bot
    bot.release.set()
    server.should_exit = True
    thread.join(10)
    app.state.convbot.llm_pool.shutdown(wait=False, cancel_futures=True)


def test_intent_turns_do_not_queue_behind_waiting_llm_turns(scripted_service):
    base, bot = scripted_service
    # more waiting LLM turns than the shared thread pool has workers (min(32, cores + 4))
    with httpx.Client(base_url=base, timeout=60) as client:
        llm_threads = [threading.Thread(target=client.post, args=("/v1/chat",),
                                        kwargs={"json": {"session_id": f"s{i}", "text": f"llm {i}"}})
                       for i in range(40)]
        for t in llm_threads:
            t.start()
        deadline = time.time() + 20
        while time.time() < deadline and "convbot_llm_requests_waiting 40.0" not in client.get("/metrics").text:
            time.sleep(0.05)
        assert "convbot_llm_requests_waiting 40.0" in client.get("/metrics").text
        r = client.post("/v1/chat", json={"session_id": "fast", "text": "hello"}, timeout=10)
        assert r.status_code == 200 and r.json()["route"] == "template"
        assert not bot.release.is_set() and all(t.is_alive() for t in llm_threads)
        bot.release.set()
        for t in llm_threads:
            t.join(30)


def test_a_streamed_answer_sends_its_first_chunk_before_the_generation_ends(scripted_service):
    base, bot = scripted_service
    with httpx.stream("POST", f"{base}/v1/chat/stream", json={"session_id": "s", "text": "llm tell me"},
                      timeout=30) as r:
        lines = r.iter_lines()
        events = []
        for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if "text" in events[-1]:
                    break
        # the first chunk arrived while the generation is still held
        assert events[-1] == {"text": "first."} and not bot.release.is_set()
        bot.release.set()
        rest = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
    assert rest[0] == {"text": "second."} and rest[-1]["answer"] == "first. second."


def test_a_streamed_llm_answer_is_signed_off_once_at_the_end(tiny_bundle, tmp_path):
    from serving.bot.bot import Bot

    folder = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, folder)
    brand = folder / "brand.yaml"
    brand.write_text(brand.read_text().replace('sign_off: ""', 'sign_off: "- convbot"'))
    assert "- convbot" in brand.read_text()
    bot = Bot(folder)
    bot.llm.max_new_tokens = 24
    bot.post.output_guard = None  # the tiny guard is random: the answer must not become a refusal here
    turn = bot.route("s", "search the web for the history of jazz")
    assert turn.route == "llm"
    chunks = list(bot.answer_chunks(turn))
    assert not turn.refused and len(chunks) >= 2
    assert chunks[-1] == "- convbot" and sum(c.count("- convbot") for c in chunks) == 1
    assert turn.answer.endswith("- convbot") and turn.answer.count("- convbot") == 1
    assert bot.sessions.history("s")[-1]["bot"] == turn.answer


@pytest.fixture()
def llm_stage(tiny_llm):
    from serving.bot.llm_stage import LlmStage
    from serving.llm_runtime import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llm)
    return LlmStage(model, tokenizer, "You are a test bot.", max_new_tokens=12, max_batch_size=8)


def _llm_turn(text: str) -> Turn:
    turn = Turn(session_id="s", text=text, clean=text)
    turn.route = "llm"
    return turn


def _alone(llm_stage, turn: Turn, max_new_tokens: int) -> list[int]:
    """What plain greedy generation gives the turn's prompt on its own."""
    import torch

    from serving.llm_runtime import encode_prompt

    tok = llm_stage.tokenizer
    ids = torch.tensor([encode_prompt(tok, llm_stage.messages(turn))])
    with torch.inference_mode():
        out = llm_stage.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                       max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id or tok.eos_token_id)
    return out[0, ids.shape[1]:].tolist()


class _SlowModel:
    """The tiny LLM with a pause in every forward pass (so turns overlap), its calls recorded, and a switch
    that makes it fail."""

    def __init__(self, model, delay: float):
        self.model, self.delay, self.generation_config = model, delay, model.generation_config
        self.forward = model.forward  # what callers read the model's arguments from
        self.rows: list[int] = []
        self.fail = False

    def __call__(self, **inputs):
        self.rows.append(int(inputs["input_ids"].shape[0]))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("generation failed")
        return self.model(**inputs)


@pytest.mark.usefixtures("one_torch_thread")
def test_turns_in_flight_each_get_what_plain_greedy_generation_gives_them(llm_stage):
    texts = ["hi", "tell me something about the history of jazz music", "what is two plus two"]
    turns = [_llm_turn(t) for t in texts]
    with ThreadPoolExecutor(len(turns)) as pool:
        answers = list(pool.map(lambda turn: "".join(llm_stage.tokens(turn)), turns))
    tok = llm_stage.tokenizer
    for turn, answer in zip(turns, answers):
        alone = _alone(llm_stage, turn, 12)
        assert answer == tok.decode([t for t in alone if t != tok.eos_token_id], skip_special_tokens=True)
        assert turn.llm_tokens == len(alone) and turn.ttft_ms is not None


@pytest.mark.usefixtures("one_torch_thread")
def test_a_turn_joins_the_running_batch_and_errors_reach_every_turn_in_flight(llm_stage):
    """Continuous batching: a turn that arrives while another generates gets its first token at the next
    step, long before the other ends, and both get their own greedy answers."""
    plain = llm_stage.model
    slow = _SlowModel(plain, delay=0.05)
    llm_stage.model = slow
    first, second = _llm_turn("tell me something about the history of jazz music"), _llm_turn("hi")
    ended = {}

    def ask(turn):
        answer = "".join(llm_stage.tokens(turn))
        ended[turn.text] = time.perf_counter()
        return answer

    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(ask, first)
        deadline = time.time() + 10
        while first.llm_tokens < 3 and time.time() < deadline:
            time.sleep(0.01)
        joined_at = time.perf_counter()
        late = pool.submit(ask, second)
        answers = running.result(30), late.result(30)
    assert first.llm_tokens == 12, "the running turn ended early: the test needs it to outlast the join"
    assert joined_at + second.ttft_ms / 1000 < ended[first.text], "the late turn waited for the running one"
    assert 2 in slow.rows, "no decode step ran both turns"
    tok = llm_stage.tokenizer
    llm_stage.model = plain
    for turn, answer in zip((first, second), answers):
        assert answer == tok.decode([t for t in _alone(llm_stage, turn, 12) if t != tok.eos_token_id],
                                    skip_special_tokens=True)
    # a failed step fails every turn in flight, and the worker serves the next one
    llm_stage.model = slow
    slow.fail = True
    with ThreadPoolExecutor(2) as pool:
        failing = [pool.submit(lambda t: "".join(llm_stage.tokens(t)), _llm_turn(x)) for x in ("a", "b")]
        for future in failing:
            with pytest.raises(RuntimeError, match="generation failed"):
                future.result(30)
    slow.fail = False
    assert "".join(llm_stage.tokens(_llm_turn("after")))


def test_the_llm_pauses_while_routing_turns_run_and_never_longer_than_its_cap():
    from serving.bot.llm_stage import RoutingFirst

    gate = RoutingFirst(max_pause_s=0.5)
    start = time.perf_counter()
    gate.wait()
    assert time.perf_counter() - start < 0.1, "paused with no routing turn in flight"
    with gate.routing():
        start = time.perf_counter()
        gate.wait()
        assert 0.45 <= time.perf_counter() - start < 2, "a routing turn that never ends must not stall the LLM"

    def routing_turn():
        with gate.routing():
            time.sleep(0.1)

    worker = threading.Thread(target=routing_turn)
    worker.start()
    time.sleep(0.02)
    start = time.perf_counter()
    gate.wait()
    assert time.perf_counter() - start < 0.4, "the LLM did not resume when the routing turn ended"
    worker.join()


def test_a_turn_whose_first_token_ends_it_still_has_a_time_to_first_token():
    from serving.bot.llm_stage import _Row

    tokenizer = SimpleNamespace(decode=lambda ids, skip_special_tokens=True: "".join(f" w{i}" for i in ids))
    got: list[list] = [[], []]
    turns = [_llm_turn("a"), _llm_turn("b")]
    rows = [_Row(turn, g.append, time.perf_counter(), tokenizer, eos={0}, budget=3) for turn, g in zip(turns, got)]
    for tokens in ([0, 7], [0, 8], [0, 9], [0, 10]):  # the first row ends at once; the second at its budget
        for row, token in zip(rows, tokens):
            row.push(token)
    assert got[0] == [_END] and turns[0].llm_tokens == 1 and turns[0].ttft_ms is not None
    assert "".join(p for p in got[1] if isinstance(p, str)) == " w7 w8 w9" and got[1][-1] is _END
    assert turns[1].llm_tokens == 3 and turns[1].ttft_ms is not None
