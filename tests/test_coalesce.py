"""Group commit of model passes: concurrent callers share one batch and each gets its own rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.bot.coalesce import Coalescing


class SlowModel:
    """One row per text (its number), slow enough that callers arrive while a batch runs."""

    def __init__(self, delay: float = 0.05):
        self.delay, self.calls, self._lock = delay, [], threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        time.sleep(self.delay)
        return np.array([[float(t)] for t in texts])


def test_a_caller_alone_runs_at_once_on_its_own_texts():
    model = SlowModel(0.0)
    shared = Coalescing(model)
    assert shared(["1", "2"]).tolist() == [[1.0], [2.0]]
    assert model.calls == [["1", "2"]] and shared.batches == 1


def test_concurrent_callers_share_batches_and_each_gets_its_own_rows():
    model = SlowModel()
    shared = Coalescing(model, max_batch=64)
    texts = [[str(i), str(100 + i)] for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(shared, texts))
    assert [r[:, 0].tolist() for r in results] == [[float(a), float(b)] for a, b in texts]
    # the first caller runs alone; the 15 that arrived meanwhile go in the next batch or two
    assert shared.batches == len(model.calls) <= 4
    assert sorted(t for call in model.calls for t in call) == sorted(t for pair in texts for t in pair)


def test_a_batch_holds_at_most_max_batch_texts_but_never_splits_a_request():
    model = SlowModel()
    shared = Coalescing(model, max_batch=3)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(shared, [[str(i)] for i in range(8)] + [["50", "51", "52", "53"]]))
    assert all(len(call) <= 3 for call in model.calls if len(call) != 4)
    assert ["50", "51", "52", "53"] in model.calls  # a request larger than max_batch runs whole, alone
    assert results[-1][:, 0].tolist() == [50.0, 51.0, 52.0, 53.0]


def test_an_error_reaches_every_caller_of_its_batch_and_later_calls_still_run():
    gate = threading.Event()

    def model(texts):
        gate.wait(5)
        if "bad" in texts:
            raise RuntimeError("model failed")
        return np.array([[1.0]] * len(texts))

    shared = Coalescing(model)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(shared, ["ok"])
        time.sleep(0.05)  # the first batch is running; these two wait and go together
        late = [pool.submit(shared, ["bad"]), pool.submit(shared, ["ok"])]
        time.sleep(0.05)
        gate.set()
        assert first.result().tolist() == [[1.0]]
        for future in late:
            with pytest.raises(RuntimeError, match="model failed"):
                future.result()
    assert shared(["ok"]).tolist() == [[1.0]]


def test_a_model_that_returns_the_wrong_number_of_rows_is_an_error():
    shared = Coalescing(lambda texts: np.zeros((len(texts) + 1, 1)))
    with pytest.raises(ValueError, match="2 rows for 1 texts"):
        shared(["a"])
    with pytest.raises(ValueError, match="max_batch"):
        Coalescing(lambda texts: texts, max_batch=0)
