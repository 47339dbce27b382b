"""The bot over HTTP: `build_app(settings)` returns the FastAPI app; nothing is read from the command line
at import time. The lifespan loads the bundle in the background: /healthz answers at once, /readyz only
when every model is loaded.

    POST /v1/chat          {session_id, text} -> {turn_id, answer, intent, confidence, route, citations, refused, versions}
    POST /v1/chat/stream   the same as server-sent events: meta, delta..., done (with first_token_ms)
    POST /v1/feedback      {session_id, turn_id, correction} -> the correction, redacted, in the feedback inbox
    GET  /healthz  /readyz  /metrics
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.bot.turn import BotError

from .metrics import BotMetrics


class Settings(BaseModel):
    bundle: str = Field(description="the serving bundle folder")
    sessions: str = Field(default="", description="redis://... for Redis, else a SQLite file ('' = in the bundle folder)")
    feedback_inbox: str = Field(default="", description="folder the feedback inbox files go to ('' = no feedback)")
    max_body_bytes: int = 16_384
    max_header_bytes: int = 16_384
    version_label: str = Field(default="", description="what metrics call this bundle (default: its manifest version)")
    verify_bundle: bool = True
    fault_error_rate: float = Field(default=0.0, ge=0.0, le=1.0,
                                    description="chaos rehearsal: answer this share of chat requests with a 500")

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(bundle=os.environ["CONVBOT_BUNDLE"], sessions=os.environ.get("CONVBOT_SESSIONS", ""),
                   feedback_inbox=os.environ.get("CONVBOT_FEEDBACK_INBOX", ""),
                   version_label=os.environ.get("CONVBOT_VERSION_LABEL", ""),
                   fault_error_rate=float(os.environ.get("CONVBOT_FAULT_ERROR_RATE", "0") or 0))


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    session_id: str = Field(min_length=1, max_length=64)
    text: str


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    session_id: str = Field(min_length=1, max_length=64)
    turn_id: str = Field(min_length=1, max_length=64)
    correction: str = Field(min_length=1, max_length=4000)


class ChatResponse(BaseModel):
    turn_id: str
    answer: str
    intent: str | None
    confidence: float
    route: str
    citations: list[dict]
    refused: bool
    versions: dict
    timings_ms: dict


class State:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = BotMetrics()
        self.bot = None
        self.error: str | None = None
        self.version = settings.version_label
        # LLM turns wait in threads of their own, as many as the running batch holds: in the shared thread
        # pool, turns waiting for the LLM would hold every worker and intent-answered turns would queue behind them
        self.llm_pool: ThreadPoolExecutor | None = None

    def load(self) -> None:
        try:
            from serving.bot.bot import Bot
            from serving.bot.sessions import open_sessions
            from serving.bundle import verify

            folder = Path(self.settings.bundle)
            manifest = verify(folder) if self.settings.verify_bundle else {}
            self.version = self.version or str(manifest.get("version", "dev"))
            sessions = open_sessions(self.settings.sessions, folder.parent / f".sessions-{folder.name}.db")
            bot = Bot(folder, sessions, observe=lambda stage, s: self.metrics.stage.labels(stage).observe(s))
            # the models' and libraries' objects live as long as the server: out of the collector's way, a full
            # collection (which stops every request) scans what turns create, not them
            gc.collect()
            gc.freeze()
            self.attach(bot)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz, the process stays up to say why
            self.error = f"{exc.__class__.__name__}: {exc}"

    def attach(self, bot) -> None:
        """Serve this (loaded) bot from now on."""
        self.llm_pool = ThreadPoolExecutor(max_workers=bot.llm.max_batch_size, thread_name_prefix="convbot-llm")
        from serving.bot.session_writer import SessionWriter

        if isinstance(getattr(bot, "sessions", None), SessionWriter):  # a stand-in bot may have no sessions
            self.metrics.watch_session_writer(bot.sessions)
        self.bot = bot
        self.metrics.ready.set(1)


def get_state(request: Request) -> State:
    return request.app.state.convbot


def ready_bot(state: State = Depends(get_state)):
    if state.bot is None:
        raise BotError("the bot is still loading" if state.error is None else f"the bot failed to load: {state.error}")
    return state.bot


def _error(status: int, code: str, message, state: State | None = None) -> JSONResponse:
    if state is not None:
        state.metrics.errors.labels(str(status)).inc()
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def build_app(settings: Settings) -> FastAPI:
    state = State(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loader = threading.Thread(target=state.load, daemon=True)
        loader.start()
        yield
        if state.llm_pool is not None:
            state.llm_pool.shutdown(wait=False, cancel_futures=True)
        if state.bot is not None:
            state.bot.close()

    app = FastAPI(title="convbot", lifespan=lifespan)
    app.state.convbot = state

    @app.middleware("http")
    async def body_limit(request: Request, call_next):
        header_bytes = sum(len(k) + len(v) for k, v in request.headers.items())
        if header_bytes > settings.max_header_bytes:
            return _error(431, "headers_too_large", f"request headers are limited to {settings.max_header_bytes} bytes",
                          state)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_body_bytes):
            return _error(413, "body_too_large", f"request bodies are limited to {settings.max_body_bytes} bytes", state)
        return await call_next(request)

    if settings.fault_error_rate > 0:
        import random

        @app.middleware("http")
        async def injected_faults(request: Request, call_next):
            if request.url.path.startswith("/v1/chat") and random.random() < settings.fault_error_rate:
                return _error(500, "injected_fault", "a fault injected to rehearse a rollback", state)
            return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return _error(400, "invalid_request", detail, state)

    @app.exception_handler(BotError)
    async def bot_error(request: Request, exc: BotError):
        status = 503 if "loading" in str(exc) or "failed to load" in str(exc) else exc.status
        return _error(status, exc.code if status != 503 else "not_ready", str(exc), state)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, "http_error", exc.detail, state)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(state: State = Depends(get_state)):
        if state.bot is not None and state.bot.ready:
            return {"status": "ready", "version": state.version, "versions": state.bot.versions}
        return JSONResponse({"status": "loading" if state.error is None else "failed", "error": state.error},
                            status_code=503)

    @app.get("/metrics")
    def metrics(state: State = Depends(get_state)):
        return PlainTextResponse(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def _in_llm_queue(fn, *args):
        state.metrics.llm_waiting.inc()
        try:
            return await asyncio.get_running_loop().run_in_executor(state.llm_pool, fn, *args)
        finally:
            state.metrics.llm_waiting.dec()

    @app.post("/v1/chat", response_model=ChatResponse)
    async def chat(body: ChatRequest, bot=Depends(ready_bot)):
        start = time.perf_counter()
        turn = await asyncio.to_thread(_answered_unless_llm, bot, body.session_id, body.text)
        if turn.route == "llm":
            await _in_llm_queue(bot.finish, turn)
        state.metrics.observe_turn(turn, "refused" if turn.refused else "ok", state.version, time.perf_counter() - start)
        return ChatResponse(turn_id=turn.turn_id, answer=turn.answer, intent=turn.intent, confidence=turn.confidence,
                            route=turn.route, citations=turn.citations, refused=turn.refused,
                            versions={"bundle": state.version, **bot.versions}, timings_ms=turn.timings_ms)

    @app.post("/v1/chat/stream")
    async def chat_stream(body: ChatRequest, bot=Depends(ready_bot)):
        start = time.perf_counter()
        turn = await asyncio.to_thread(bot.route, body.session_id, body.text)
        meta = {"turn_id": turn.turn_id, "intent": turn.intent, "confidence": turn.confidence, "route": turn.route}

        async def chunks():
            if turn.route != "llm":
                yield await asyncio.to_thread(lambda: "".join(bot.answer_chunks(turn)))
                return
            # the generation runs in the LLM queue and hands each chunk over as soon as it is made
            loop, queue = asyncio.get_running_loop(), asyncio.Queue()

            def produce():
                try:
                    for piece in bot.answer_chunks(turn):
                        loop.call_soon_threadsafe(queue.put_nowait, piece)
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, None)

            done = asyncio.ensure_future(_in_llm_queue(produce))
            while (piece := await queue.get()) is not None:
                yield piece
            await done  # raises what the generation raised

        async def events():
            yield f"event: meta\ndata: {json.dumps(meta)}\n\n"
            async for piece in chunks():
                yield f"event: delta\ndata: {json.dumps({'text': piece})}\n\n"
            done = {"answer": turn.answer, "refused": turn.refused, "route": turn.route, "citations": turn.citations,
                    # the LLM's first token, from the request's arrival: what precedes the first chunk's phrase
                    "first_token_ms": None if turn.first_token_at is None else (turn.first_token_at - start) * 1000}
            yield f"event: done\ndata: {json.dumps(done)}\n\n"
            state.metrics.observe_turn(turn, "refused" if turn.refused else "ok", state.version,
                                       time.perf_counter() - start)

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/feedback", status_code=202)
    async def feedback(body: FeedbackRequest, bot=Depends(ready_bot)):
        if not settings.feedback_inbox:
            raise BotError("this deployment takes no feedback (no inbox configured)")
        record = bot.feedback_record(body.session_id, body.turn_id, body.correction)
        await asyncio.to_thread(_append_feedback, state, Path(settings.feedback_inbox), record)
        state.metrics.feedback.inc()
        return {"accepted": True, "turn_id": body.turn_id}

    return app


def _answered_unless_llm(bot, session_id: str, text: str):
    """The routed turn, finished in the same worker thread unless the LLM answers it (one hand-off, not two,
    for an intent-answered turn)."""
    turn = bot.route(session_id, text)
    if turn.route != "llm":
        bot.finish(turn)
    return turn


def _append_feedback(state: State, inbox: Path, record: dict) -> None:
    """Redacted before it is written (the inbox never holds raw user text from the API), one file per
    correction, renamed into place whole: `feedback_log` never reads a half-written file nor deletes one
    that is still growing."""
    from training.fileio import atomic_write_text
    from training.pii import redact_related

    fields = ("user_input", "bot_response", "corrected_response")
    for name, r in zip(fields, redact_related([record[f] for f in fields])):
        record[name] = r.text
    name = f"api-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"
    atomic_write_text(inbox / name, json.dumps(record, ensure_ascii=False) + "\n")


def create_app() -> FastAPI:
    """For `uvicorn --factory serving.http.app:create_app`: settings from the environment."""
    return build_app(Settings.from_env())


def new_session_id() -> str:
    return uuid.uuid4().hex
