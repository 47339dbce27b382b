import os

# Nothing may load weights from a hub; DVC must not phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one thread each (and each server they start) is fastest
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

from tests.chain_resources import chain_resources  # noqa: E402
from tests.tiny_models import build_tiny_encoder, build_tiny_llm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL_INTENTS = ["weather", "book_flight", "search_web", "reset_password", "greeting", "set_alarm"]


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny_encoder"))


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory) -> Path:
    return build_tiny_llm(tmp_path_factory.mktemp("tiny_llm"), vocab_size=2048)


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> Path:
    """The shipped catalog cut down to six intents."""
    raw = yaml.safe_load((ROOT / "configs" / "intent_catalog.yaml").read_text())
    raw["intents"] = [i for i in raw["intents"] if i["name"] in SMALL_INTENTS]
    path = tmp_path_factory.mktemp("catalog") / "small_catalog.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="session")
def clinc_path() -> Path:
    from pipelines.settings import reference_file

    return reference_file("clinc150/data_full.json")


@pytest.fixture
def env(tmp_path, monkeypatch, tiny_encoder, tiny_llm):
    """(tmp, resources) of `chain_resources`, with the pipeline's state folder in tmp."""
    monkeypatch.setenv("CONVBOT_STATE", str(tmp_path / "state"))
    return tmp_path, chain_resources(tmp_path, tiny_encoder, tiny_llm)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny matrix products: with two threads on a busy 2-core machine OpenMP spin-waits make every
    step about 20x slower. Use with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, small_catalog, tiny_encoder, tiny_llm) -> Path:
    """A serving bundle of tiny models, built as the pipeline builds one. Building takes most of a minute, so
    pytest-xdist's workers share one: the first builds it under a lock, the others wait and reuse it (the tiny
    models come from a fixed seed, so every worker would build the same inputs). Tests copy it to change it."""
    from filelock import FileLock

    from tests.tiny_bundle import build_tiny_bundle

    shared = tmp_path_factory.getbasetemp().parent if os.environ.get("PYTEST_XDIST_WORKER") else \
        tmp_path_factory.getbasetemp()
    out, done = shared / "tiny-bundle" / "bot", shared / "tiny-bundle.done"
    with FileLock(str(shared / "tiny-bundle.lock")):
        if not done.exists():
            build_tiny_bundle(out, small_catalog, tiny_encoder, tiny_llm)
            done.touch()
    return out
