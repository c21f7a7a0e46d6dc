"""Shared fixtures: the embedded model, a real llama.cpp server on loopback, and HTTP proxies.

Session-scoped where starting costs time (the model, the server process, the recording proxy);
`make_proxy` gives each test its own proxy (recording, or with a seeded `FaultPlan`).
"""

from __future__ import annotations

import os
import tempfile
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# OpenMP threads that spin while waiting make llama.cpp 10-20x slower on a busy 2-core machine;
# libgomp reads this when llama_cpp is first imported, so it is set before any test imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The CLI's disk response cache must not leak between test sessions (or into ~/.cache).
os.environ["SMOLGEPA_CACHE_DIR"] = tempfile.mkdtemp(prefix="smolgepa-test-cache-")

from support.llama_server import LlamaServer  # noqa: E402
from support.proxy import FaultPlan, Proxy  # noqa: E402

from smolgepa.lm.embedded import EmbeddedEngine, EmbeddedSettings  # noqa: E402
from smolgepa.lm.models import embedded_model_path  # noqa: E402


@pytest.fixture(scope="session")
def embedded_path() -> Path:
    """The shipped SmolLM2-135M-Instruct GGUF file."""
    return embedded_model_path()


@pytest.fixture(scope="session")
def embedded_engine(embedded_path: Path) -> Iterator[EmbeddedEngine]:
    """The embedded student, loaded once for the session."""
    engine = EmbeddedEngine(EmbeddedSettings(path=str(embedded_path)))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def llama_server(embedded_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A real `python -m llama_cpp.server` with the embedded GGUF on 127.0.0.1 (n_ctx 2048).

    Use `llama_server.base_url` (http://127.0.0.1:PORT/v1) as a student's base URL.
    """
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with LlamaServer(embedded_path, log, n_ctx=2048) as server:
        yield server


@pytest.fixture(autouse=True)
def server_forgets_earlier_tests(request: pytest.FixtureRequest) -> None:
    """Tests that use the llama.cpp server start from a server that has not just seen their first prompt."""
    if "llama_server" in request.fixturenames:
        request.getfixturevalue("llama_server").forget_last_prompt()


@pytest.fixture(scope="session")
def recording_proxy(llama_server: LlamaServer) -> Iterator[Proxy]:
    """A recording proxy in front of the real server for the whole session (see `Proxy.mark`)."""
    with Proxy(llama_server.root_url) as proxy:
        yield proxy


@pytest.fixture
def make_proxy(llama_server: LlamaServer) -> Iterator[Callable[..., Proxy]]:
    """Factory: `make_proxy(FaultPlan(...))` (or no plan) starts a proxy stopped after the test."""
    started: list[Proxy] = []

    def make(plan: FaultPlan | None = None, upstream: str | None = None) -> Proxy:
        proxy = Proxy(upstream or llama_server.root_url, plan).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
