"""The LLM's forward passes in a child process of their own, so that they never wait for Python's GIL.

A decode step of the teacher is about a thousand PyTorch operators, and the thread that runs them takes
the GIL back after each one. While the server's other threads run Python (PII redaction in spaCy and
Presidio, tokenizers, the HTTP loop), every one of those takes waits. By hand, one torch thread: a decode
step of 8 rows of SmolLM2-135M took 126 ms alone and 719 ms next to two threads running pure Python. In a
process of its own the LLM shares only the cores; vLLM's engine core runs apart from its API server for the
same reason.

The scheduling stays in the server (`LlmStage`'s worker thread): each prefill, decode step and cut of the
running batch is one message over a pipe to the child, which holds the model and the `RunningBatch`.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import weakref
from pathlib import Path


class LlmProcessError(RuntimeError):
    """The LLM's process failed to load its model, or died."""


class LlmProcess:
    """The causal LM of a folder (`load_causal_lm`), loaded and run in a spawned child process.

    `start()` returns at once (the model loads while the caller loads the rest); `wait_ready()` waits for it.
    `batch(pad_id, prefix)` is an empty running batch in the child (`RemoteBatch`). One caller
    at a time (the LLM stage's worker thread). A child that died is started again by the next `batch()`.
    """

    def __init__(self, model_dir: str | os.PathLike, threads: int | None = None, start_timeout_s: float = 600):
        from transformers import AutoConfig, GenerationConfig

        self.model_dir = Path(model_dir)
        self.threads = threads
        self.start_timeout_s = start_timeout_s
        # what the stage reads from a model (its end-of-sequence tokens), without the weights in this process;
        # as `from_pretrained` does, the model's config stands in for a missing generation config
        try:
            self.generation_config = GenerationConfig.from_pretrained(self.model_dir)
        except OSError:
            self.generation_config = GenerationConfig.from_model_config(AutoConfig.from_pretrained(self.model_dir))
        self._proc = self._conn = None
        self._ready = False
        self._lock = threading.Lock()

    def start(self) -> "LlmProcess":
        import torch

        if self._proc is not None:  # one that died
            self._finalizer()
        context = multiprocessing.get_context("spawn")  # a fork would copy the server's threads' locks
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_serve, args=(str(self.model_dir), self.threads or torch.get_num_threads(),
                                                          child), name="convbot-llm", daemon=True)
        self._proc.start()
        child.close()
        self._ready = False
        # a process whose owner is gone (a bot nobody closed) ends with it, not with the interpreter
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._conn)
        return self

    def wait_ready(self) -> "LlmProcess":
        if self._proc is None:
            self.start()
        if not self._ready:
            if not self._conn.poll(self.start_timeout_s):
                self.close()
                raise LlmProcessError(f"the LLM process did not load {self.model_dir} within {self.start_timeout_s:.0f} s")
            self._result()
            self._ready = True
        return self

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def batch(self, pad_id: int, prefix: list[int] | None = None) -> "RemoteBatch":
        if not self.alive:
            self.start()
        self.wait_ready()
        self.call("new", pad_id, prefix)
        return RemoteBatch(self)

    def call(self, op: str, *args):
        with self._lock:
            try:
                self._conn.send((op, args))
            except (BrokenPipeError, OSError) as exc:
                raise self._died() from exc
            return self._result()

    def close(self) -> None:
        if self._proc is not None:
            self._finalizer()
        self._proc = self._conn = None

    def _result(self):
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        if not ok:
            raise value
        return value

    def _died(self) -> LlmProcessError:
        self._proc.join(timeout=5)
        return LlmProcessError(f"the LLM process died (exit code {self._proc.exitcode}); it restarts for the next turns")


class RemoteBatch:
    """`RunningBatch`'s methods that `LlmStage` calls, over the pipe."""

    def __init__(self, process: LlmProcess):
        self.process = process

    def join(self, prompts: list[list[int]]) -> list[int]:
        return self.process.call("join", prompts)

    def step(self) -> list[int]:
        return self.process.call("step")

    def keep(self, rows: list[int]) -> None:
        self.process.call("keep", rows)


def _stop(proc, conn) -> None:
    conn.close()  # the child's next read ends its loop
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _serve(model_dir: str, threads: int, conn) -> None:
    """The child: load the model, then answer the parent's calls until its end of the pipe closes."""
    try:
        import torch

        from serving.llm_runtime import load_causal_lm

        from .running_batch import RunningBatch

        torch.set_num_threads(threads)
        model, _ = load_causal_lm(model_dir)
        conn.send((True, None))
    except BaseException as exc:  # noqa: BLE001 - the parent raises it
        conn.send((False, LlmProcessError(f"the LLM process could not load {model_dir}: {type(exc).__name__}: {exc}")))
        return
    batch = None
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        try:
            if op == "new":
                batch, value = RunningBatch(model, *args), None
            else:
                value = getattr(batch, op)(*args)
            conn.send((True, value))
        except Exception as exc:  # noqa: BLE001 - the parent raises it for the turns in flight
            conn.send((False, _sendable(exc)))


def _sendable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled still says what happened
        return LlmProcessError(f"{type(exc).__name__}: {exc}")
