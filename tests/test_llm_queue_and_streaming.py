"""Serving under load: LLM turns wait in their own queue (intent-answered turns never queue behind them), a
streamed answer's first chunk leaves before the generation ends, and the brand's sign-off comes once."""

from __future__ import annotations

import json
import shutil
import threading
import time
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


@pytest.mark.usefixtures("one_torch_thread")
def test_a_batch_gives_each_turn_what_plain_greedy_generation_gives_it(llm_stage):
    import torch

    from serving.llm_runtime import encode_prompt

    texts = ["hi", "tell me something about the history of jazz music", "what is two plus two"]
    turns = [_llm_turn(t) for t in texts]
    got: list[list] = [[] for _ in turns]
    llm_stage.generate(turns, [g.append for g in got], [time.perf_counter()] * len(turns))
    tok = llm_stage.tokenizer
    for turn, pieces in zip(turns, got):
        ids = torch.tensor([encode_prompt(tok, llm_stage.messages(turn))])
        with torch.inference_mode():
            out = llm_stage.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=12,
                                           pad_token_id=tok.pad_token_id or tok.eos_token_id)
        alone = out[0, ids.shape[1]:].tolist()
        expected = tok.decode([t for t in alone if t != tok.eos_token_id], skip_special_tokens=True)
        assert pieces[-1] is _END and "".join(p for p in pieces if isinstance(p, str)) == expected
        assert turn.llm_tokens == len(alone) and turn.ttft_ms is not None


def test_turns_that_wait_together_are_generated_in_one_batch_and_errors_reach_every_caller(llm_stage):
    sizes, hold = [], threading.Event()

    def generate(turns, sinks, started):
        sizes.append(len(turns))
        if len(sizes) == 1:
            assert hold.wait(30)
        if any(t.text == "boom" for t in turns):
            raise RuntimeError("generation failed")
        for turn, sink in zip(turns, sinks):
            sink(f"answer to {turn.text}")
            sink(_END)

    llm_stage.generate = generate
    answers = {}

    def ask(text):
        try:
            answers[text] = "".join(llm_stage.tokens(_llm_turn(text)))
        except RuntimeError as exc:
            answers[text] = exc

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    deadline = time.time() + 10
    while not sizes and time.time() < deadline:
        time.sleep(0.01)
    waiting = [threading.Thread(target=ask, args=(f"q{i}",)) for i in range(5)]
    for t in waiting:
        t.start()
    while len(llm_stage._pending) < 5 and time.time() < deadline:
        time.sleep(0.01)
    hold.set()
    for t in [first, *waiting]:
        t.join(10)
    assert sizes == [1, 5]
    assert answers == {"first": "answer to first", **{f"q{i}": f"answer to q{i}" for i in range(5)}}
    # a failed batch fails its callers, and the worker serves the next one
    ask("boom")
    assert isinstance(answers["boom"], RuntimeError)
    ask("after")
    assert answers["after"] == "answer to after"


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
    import torch

    from serving.bot.llm_stage import _BatchStreamer

    turns = [_llm_turn("a"), _llm_turn("b")]
    got: list[list] = [[], []]
    tokenizer = SimpleNamespace(decode=lambda ids, skip_special_tokens=True: "".join(f" w{i}" for i in ids))
    streamer = _BatchStreamer(tokenizer, turns, [g.append for g in got], [time.perf_counter()] * 2, eos={0})
    streamer.put(torch.tensor([[5, 6], [5, 6]]))  # the prompts
    streamer.put(torch.tensor([0, 7]))  # the first row ends at once
    streamer.put(torch.tensor([0, 0]))
    streamer.end()
    assert got[0] == [_END] and turns[0].llm_tokens == 1 and turns[0].ttft_ms is not None
    assert "".join(p for p in got[1] if isinstance(p, str)) == " w7" and got[1][-1] is _END
    assert turns[1].llm_tokens == 2 and turns[1].ttft_ms is not None
