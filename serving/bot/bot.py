"""`Bot`: the layers of the design composed from a bundle folder.

    preprocess -> guard -> intent (+ slots) -> context (session history) -> router -> LLM -> post-process

Bundle folder (what `serving/bundle.py` writes and verifies):

    bot.yaml  brand.yaml  knowledge.yaml  catalog.yaml  manifest.json
    models/intent/   the classifier (save_pretrained, calibration in its config)
    models/guard/    the safety classifier (threshold in its config); absent = rules only
    models/llm/      the int8 student with the DPO adapter merged (serving.int8_linear layout)
    models/embedder/ the retrieval encoder (sentence-transformers); absent = the base encoder
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import yaml

from serving.encoder_runtime import DEFAULT_RUNTIME, check_runtime, in_runtime, sentence_encoder_in
from training.catalog import load_catalog
from training.intent_predictor import IntentPredictor

from .coalesce import Coalescing
from .guard_stage import GuardStage
from .intent_stage import IntentStage
from .knowledge import KnowledgeBase, load_knowledge
from .llm_process import LlmProcess
from .llm_stage import LlmStage, RoutingFirst, phrases
from .postprocess import BrandRules, PostProcess
from .preprocess import Preprocess, check_session_id
from .router import Router, check_config
from .session_writer import SessionWriter
from .sessions import SessionStore, SqliteSessions
from .slots import SlotExtractor
from .stages import Pipeline
from .turn import BotError, Turn


class FeedbackRejected(BotError):
    status, code = 404, "unknown_turn"


@dataclass
class Context:
    """Session memory: the turns this session had, and only this session's."""
    sessions: SessionStore
    history_turns: int = 6
    name: str = "context"
    always: bool = False

    def __call__(self, turn: Turn) -> Turn:
        turn.history = self.sessions.history(turn.session_id, self.history_turns)
        return turn


class Bot:
    def __init__(self, folder: str | Path, sessions: SessionStore | None = None,
                 observe: Callable[[str, float], None] | None = None, load_llm: bool = True):
        folder = Path(folder)
        self.folder = folder
        self.config = yaml.safe_load((folder / "bot.yaml").read_text())
        self.manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").exists() else {}
        catalog = load_catalog(folder / "catalog.yaml")
        llm_cfg = self.config.get("llm") or {}
        # the LLM's own process loads its model while this one loads the rest
        engine = LlmProcess(folder / "models" / "llm").start() if load_llm and _llm_in_process(llm_cfg) else None
        try:
            self._load(folder, catalog, llm_cfg, engine, load_llm, sessions, observe)
        except BaseException:
            if engine is not None:
                engine.close()
            raise

    def _load(self, folder: Path, catalog, llm_cfg: dict, engine, load_llm: bool, sessions, observe) -> None:
        from serving.guard.classifier import GuardClassifier

        # concurrent routing turns share each model pass (one batch; onnx-int8 runs its texts one a pass, in turn)
        # instead of queueing for the cores one by one
        max_batch = int(self.config.get("max_routing_batch", 32))
        share = lambda fn: Coalescing(fn, max_batch)  # noqa: E731
        runtime = _encoder_runtime(self.config)
        predictor = IntentPredictor.from_pretrained(folder / "models" / "intent")
        check_config(self.config, predictor.labels)
        self.brand = BrandRules(folder / "brand.yaml")
        self.guard = GuardClassifier.from_pretrained(folder / "models" / "guard") if (folder / "models" / "guard").exists() else None
        for model in [predictor] + ([self.guard.predictor] if self.guard is not None else []):
            in_runtime(runtime, model)
            model.prepare().share_passes(share)
        # a bundle is read-only: sessions live elsewhere (a temporary file when the caller gives no store)
        self.sessions = sessions or SqliteSessions(Path(tempfile.mkdtemp(prefix="convbot-sessions-")) / "sessions.db")
        encode = sentence_encoder_in(runtime, _embedder(folder))
        knowledge = KnowledgeBase(load_knowledge(folder / "knowledge.yaml"), encode, share)
        self.llm = None
        self.routing_first = RoutingFirst(float(llm_cfg.get("max_pause_ms", 50)) / 1000)
        if load_llm:
            from serving.llm_runtime import load_causal_lm

            if engine is not None:
                from transformers import AutoTokenizer

                model, tokenizer = engine.wait_ready(), AutoTokenizer.from_pretrained(folder / "models" / "llm")
            else:
                model, tokenizer = load_causal_lm(folder / "models" / "llm")
            self.llm = LlmStage(model, tokenizer, llm_cfg.get("system_prompt", ""), int(llm_cfg.get("max_new_tokens", 64)),
                                int(self.config.get("history_turns", 6)),
                                int(llm_cfg.get("max_batch_size", LlmStage.max_batch_size)),
                                before_step=self.routing_first.wait)
        self.post = PostProcess(self.brand, self.guard)
        if _store_after_answer(self.config):
            self.sessions = SessionWriter(self.sessions, self.post.redact_texts)
        slots = SlotExtractor(catalog)
        # what the first turns would load otherwise: the PII pipeline (spaCy, Presidio) and the date parser
        self.post.redact("Write to Ana Silva on Friday")
        slots.warm_up()
        self.routing = Pipeline([
            Preprocess(int(self.config.get("max_chars", 1000))),
            GuardStage(self.guard, self.brand.refusal),
            IntentStage(predictor, slots),
            Context(self.sessions, int(self.config.get("history_turns", 6))),
            Router(self.config, knowledge),
        ], observe)
        self.observe = observe
        self.versions = self.manifest.get("versions", {})

    def close(self) -> None:
        """Store the turns still waiting to be stored; stop the LLM's process, when it has one."""
        if isinstance(self.sessions, SessionWriter):
            self.sessions.close()
        if self.llm is not None and isinstance(self.llm.model, LlmProcess):
            self.llm.model.close()

    @property
    def ready(self) -> bool:
        return self.llm is not None and self.sessions.ping()

    def route(self, session_id: str, text: str) -> Turn:
        """The routing path alone (preprocess, guard, intent, context, router): fast, safe to run concurrently;
        the LLM pauses while it runs (`RoutingFirst`)."""
        with self.routing_first.routing():
            return self.routing(Turn(session_id=session_id, text=text))

    def finish(self, turn: Turn) -> Turn:
        """The rest of a routed turn: the LLM when the router chose it (batched with other waiting turns),
        post-processing, and the turn stored in its session."""
        if turn.route == "llm":
            self._timed(turn, "llm", lambda: self.llm(turn))
            self._timed(turn, "postprocess", lambda: self.post(turn))
        else:
            with self.routing_first.routing():
                self._timed(turn, "postprocess", lambda: self.post(turn))
        self.store(turn)
        return turn

    def store(self, turn: Turn) -> None:
        """The finished turn into its session, the user's text redacted: behind the answer (`SessionWriter`), or in
        line with `store_after_answer: false`."""
        if isinstance(self.sessions, SessionWriter):
            self.sessions.submit(turn)
        else:
            turn.user_redacted = self.post.redact(turn.clean)
            self.sessions.append(turn.session_id, turn.record())

    def respond(self, session_id: str, text: str) -> Turn:
        """One whole turn: routed, answered, post-processed, stored in the session."""
        return self.finish(self.route(session_id, text))

    def stream(self, session_id: str, text: str) -> tuple[Turn, Iterator[str]]:
        """The turn and its answer as chunks (see `answer_chunks`)."""
        turn = self.route(session_id, text)
        return turn, self.answer_chunks(turn)

    def answer_chunks(self, turn: Turn) -> Iterator[str]:
        """A routed turn's answer as chunks. LLM answers come a sentence or clause at a time (`phrases`): the
        guard checks the answer so far and each chunk is redacted before it is sent; the brand's sign-off comes
        last, once. Other routes come as one chunk. The turn is stored when the last chunk has been made."""
        if turn.route != "llm":
            self.finish(turn)
            yield turn.answer
            return
        start, raw, sent = time.perf_counter(), [], []
        for phrase in phrases(self.llm.tokens(turn)):
            raw.append(phrase)
            if not self.post.check_output(turn, " ".join(raw)):
                sent = [turn.answer]  # the refusal replaces the rest
                yield turn.answer
                break
            piece = self.post.finish_piece(phrase)
            if piece:
                sent.append(piece)
                yield piece
        if not sent:
            turn.answer = self.brand.refusal(None)
            sent = [turn.answer]
            yield turn.answer
        if not turn.refused:
            sign_off = self.brand.sign_off()
            if sign_off:
                sent.append(sign_off)
                yield sign_off
            turn.answer = " ".join(sent)
        turn.timings_ms["llm"] = (time.perf_counter() - start) * 1000
        self.store(turn)

    def _timed(self, turn: Turn, name: str, fn) -> None:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        turn.timings_ms[name] = elapsed * 1000
        if self.observe is not None:
            self.observe(name, elapsed)

    def feedback_record(self, session_id: str, turn_id: str, correction: str) -> dict:
        """A feedback record in the inbox format of training.feedback, from a turn this session had."""
        check_session_id(session_id)
        past = self.sessions.find_turn(session_id, turn_id)
        if past is None:
            raise FeedbackRejected(f"session {session_id} has no turn {turn_id}")
        if not isinstance(correction, str) or not correction.strip():
            raise BotError("correction is empty")
        return {"session_id": session_id, "user_input": past["user"], "bot_response": past["bot"],
                "corrected_response": correction.strip(),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "group": f"api/{past.get('intent') or 'unknown'}"}


def _llm_in_process(llm_cfg: dict) -> bool:
    value = llm_cfg.get("own_process", True)
    if not isinstance(value, bool):
        raise BotError(f"bot.yaml: llm.own_process is {value!r}; it must be true or false")
    return value


def _store_after_answer(config: dict) -> bool:
    value = config.get("store_after_answer", True)
    if not isinstance(value, bool):
        raise BotError(f"bot.yaml: store_after_answer is {value!r}; it must be true or false")
    return value


def _encoder_runtime(config: dict) -> str:
    try:
        return check_runtime(str(config.get("encoder_runtime", DEFAULT_RUNTIME)))
    except ValueError as exc:
        raise BotError(f"bot.yaml: {exc}") from None


def _embedder(folder: Path):
    from training.dp_embedder import base_embedder, load_embedder

    own = folder / "models" / "embedder"
    if own.exists():
        return load_embedder(own)
    from training.base_models import resolve_encoder

    return base_embedder(resolve_encoder().path)
