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
# Under pytest-xdist each worker's llama.cpp contexts, CLI runs and test servers use its share of the cores:
# two workers each running two threads on a 2-core machine wait on each other at every graph barrier
# (2-core AMD EPYC, 2026-12-07: the whole suite 972 s -> 903 s and 959 s; faults at scale alone 179 s -> 156 s).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))
# The CLI's disk response cache must not leak between test sessions (or into ~/.cache).
os.environ["SMOLGEPA_CACHE_DIR"] = tempfile.mkdtemp(prefix="smolgepa-test-cache-")
# Re-encoded model copies (and the format probe's choice) are content-addressed and checked on use:
# shared between test sessions, so the probe and the conversion run once, not once per session.
os.environ.setdefault("SMOLGEPA_MODELS_DIR", str(Path(tempfile.gettempdir()) / "smolgepa-test-models"))

from support import tally  # noqa: E402
from support.fault_runs import DirectRuns  # noqa: E402
from support.llama_server import LlamaServer  # noqa: E402
from support.proxy import FaultPlan, Proxy  # noqa: E402
from support.resumable_run import run_whole  # noqa: E402

from smolgepa.lm.local.embedded import EmbeddedEngine, EmbeddedSettings  # noqa: E402
from smolgepa.lm.local.model_files import embedded_model_path  # noqa: E402
from smolgepa.lm.readings.fit_memory import forget_shared_fits  # noqa: E402


# The suite answers from the Q8_0 re-encoding of the shipped file, the file the default student
# answers from on x86 CPUs without fast BF16 kernels (smolgepa.lm.local.reencode), loaded with plain settings.
# The numerics rehearsal (scripts/test runs it after the whole suite): `SMOLGEPA_TEST_MODEL=q4_1 pytest -m
# numerics` runs the tests whose answers come from model arithmetic against the shipped Q4_1 file. Its
# kernels round differently, as another CPU's build would, so an assertion fitted to this machine's exact
# logits fails there first instead of on the next CI machine.
REHEARSAL_ENV = "SMOLGEPA_TEST_MODEL"
REHEARSAL_MODELS = ("q8_0", "q4_1")


def rehearsal_model() -> str:
    """Which model file the tests use: `q8_0` (the re-encoding) unless the rehearsal asks for `q4_1` (shipped)."""
    chosen = os.environ.get(REHEARSAL_ENV, "q8_0").lower()
    if chosen not in REHEARSAL_MODELS:
        raise pytest.UsageError(f"{REHEARSAL_ENV}={chosen!r}: use one of {', '.join(REHEARSAL_MODELS)}.")
    return chosen


@pytest.fixture(scope="session")
def embedded_path() -> Path:
    """The embedded student's GGUF file: the Q8_0 re-encoding of the shipped SmolLM2-135M-Instruct Q4_1
    (converted once into SMOLGEPA_MODELS_DIR), or in the numerics rehearsal the shipped file itself."""
    shipped = embedded_model_path()
    if rehearsal_model() == "q4_1":
        return shipped
    from smolgepa.lm.local.quantize import FTYPE_Q8_0, fast_model_path, gguf_file_type

    copy = fast_model_path(shipped)
    if gguf_file_type(copy) != FTYPE_Q8_0:
        raise RuntimeError(f"the tests need a Q8_0 copy of {shipped}; the conversion failed (see the warning above)")
    return copy


@pytest.fixture(scope="session")
def default_student_settings() -> EmbeddedSettings:
    """The settings the default `embedded` student answers with (the probe's re-encoding, smolgepa.lm.local.reencode)."""
    from smolgepa.lm.student import Student

    return Student("embedded").engine().settings  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def default_student_path(default_student_settings: EmbeddedSettings) -> Path:
    """The file the default `embedded` student answers from."""
    return Path(default_student_settings.path)


@pytest.fixture(scope="session")
def embedded_spec(embedded_path: Path, default_student_settings: EmbeddedSettings) -> str:
    """The `--student` spec CLI tests pass for `embedded_engine`'s file and settings: `embedded` when the
    default student answers with exactly those, else `gguf:PATH` (the default runs its re-encoded copy
    with flash attention, which rounds differently)."""
    same = default_student_settings == EmbeddedSettings(path=str(embedded_path))
    return "embedded" if same else f"gguf:{embedded_path}"


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
def fits_shared_within_a_test_only() -> None:
    """Engines made in a test share fitted anchors with each other (as a process's engines on one file
    do), not with earlier tests': a test counting forward passes sees what a new process would do."""
    forget_shared_fits()


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


@pytest.fixture(scope="session")
def direct_runs(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> DirectRuns:
    """Fault-free `eval` and `optimize` runs straight to the session's server, made once when first asked
    for: the fault suites compare their faulty runs with these."""
    return DirectRuns(f"llamacpp:{llama_server.base_url}", tmp_path_factory.mktemp("direct"))


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


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run of `support.resumable_run.ARGS`, made once for the session: the resume,
    run-directory and full-disk tests compare with it (read only; copy it before changing anything)."""
    return run_whole(tmp_path_factory.mktemp("finished") / "whole")


# The longest modules, longest first (seconds on a worker of scripts/test on a 2-core AMD EPYC, 2026-12-07:
# 192 for the first, 139, 99, ~190 (its wrong-shape fault test included), 96, 96, ~60 ... 18 for the last).
# scripts/test runs two workers that take whole modules in collection order (--dist loadfile
# --no-loadscope-reorder): the long ones start at once and the short ones fill in behind, instead of one worker
# running a long module alone (on its half of the cores) after the other has finished.
LONGEST_FIRST = ("test_faults_at_scale", "test_verifier_server", "test_study_ray", "test_server_methods",
                 "test_evidence_run", "test_crash_consistency", "test_scoring_sequences", "test_full_disk",
                 "test_program_gepa", "test_scoring_methods", "test_decode_embedded", "test_optimize_resume",
                 "test_watch_cli", "test_watch_prefix", "test_decode_server_engine", "test_fault_injection_cli",
                 "test_bench_speed", "test_readme_use", "test_library_proposers", "test_bench_traces",
                 "test_bench_watch", "test_server_never_up", "test_predict", "test_fault_injection",
                 "test_study_renders", "test_optimize_loop", "test_reencode", "test_study", "test_quantize",
                 "test_server_engine", "test_embedded_repeat", "test_data_audit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the modules of LONGEST_FIRST first, in that order; the others keep their order after them."""
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand the reliability counts to the controller, which prints the line."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["tally"] = tally.counts()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """On the pytest-xdist controller: add a finished worker's reliability counts."""
    tally.merge(getattr(node, "workeroutput", {}).get("tally", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The reliability suites' one line (faults, kills, resumes, bad inputs, results lost), when any ran."""
    if tally.ran():
        terminalreporter.write_sep("-", "reliability")
        terminalreporter.write_line(tally.line())
