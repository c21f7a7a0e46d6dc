"""Scale figures (issue 17): two llama.cpp servers behind one student, and a study on a Ray cluster.

    python benchmarks/bench.py --scale

`two_servers`: examples per second of one student spread over two real `python -m llama_cpp.server`
processes (one thread each) over the same student on one of them, the same requests in flight
(`--threads 2`), interleaved rounds, median. `ray_study`: wall time of a 4-cell study on a local
Ray cluster (a head and two one-CPU worker nodes, started beforehand, as a user's would be) over
the same study run cell after another. On a 2-core machine both figures are bounded by the two
cores and by whatever else runs there: the load average is printed beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_helpers import Figure, load, median_rounds
from dspy.lm15 import Config, Message, Request

from smolgepa.lm.local.model_files import embedded_model_path
from smolgepa.lm.servers.server_engine import ServerEngine, ServerSettings
from smolgepa.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' server and cluster starters
from support.llama_server import LlamaServer  # noqa: E402
from support.ray_cluster import RayCluster, cluster_environment  # noqa: E402

STUDY = """name: bench-scale
tasks: [sentiment]
students: [embedded]
reflection: fewshot
seeds: [0, 1, 2, 3]
budget: 48
settings:
  max_proposals: 3
  student_max_tokens: 4
"""


def _examples_per_second(base_url: str, texts: list[str], system: str) -> float:
    engine = ServerEngine(ServerSettings(base_url=base_url, model="default", flavour="llamacpp", concurrency=2))
    requests = [Request(model="smolgepa/server", messages=(Message.user(t),), system=system,
                        config=Config(temperature=0.0, max_tokens=8, stop=("\n",))) for t in texts]
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(engine.complete, requests))
    finally:
        engine.close()
    return len(texts) / (time.perf_counter() - started)


def two_servers(rounds: int, work: Path) -> Figure:
    """Examples/s with two one-thread servers over one (see the module doc)."""
    task = load_task("sentiment")
    texts = [example.input for example in task.examples][:24]
    system = f"Classify the text. Answer with one label: {', '.join(task.label_names)}."
    model = embedded_model_path()
    with LlamaServer(model, work / "a.log", n_threads=1) as first, LlamaServer(model, work / "b.log", n_threads=1) as second:
        both = f"{first.base_url},{second.base_url}"
        one, two = median_rounds(rounds, lambda: _examples_per_second(first.base_url, texts, system),
                                 lambda: _examples_per_second(both, texts, system))
    note = (f"{two:.2f} vs {one:.2f} examples/s, n={len(texts)}, median of {rounds} rounds, 2 in flight, "
            f"each server 1 thread, {os.cpu_count()} cores, load {load()}")
    return Figure("RATIO", "two_servers", two / one, ">=", 1.6, note)


def _study_seconds(study: Path, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    reply = subprocess.run([sys.executable, "-m", "smolgepa.cli", "study", str(study), "--out", str(out), "--quiet",
                            "--no-report", *extra], capture_output=True, text=True, env=cluster_environment(),
                           timeout=3600)
    if reply.returncode != 0:
        raise RuntimeError(f"the study failed: {reply.stderr[-2000:]}")
    return time.perf_counter() - started


def ray_study(work: Path) -> Figure:
    """Wall time of a 4-cell study on a 2-worker local Ray cluster over the sequential run."""
    study = work / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    sequential = _study_seconds(study, work / "sequential")
    with RayCluster(workers=2, cpus=1) as cluster:
        on_ray = _study_seconds(study, work / "ray", "--ray", cluster.address)
    note = (f"{on_ray:.0f}s vs {sequential:.0f}s, 4 cells (budget 48 each, one CPU per worker), "
            f"cluster started beforehand, {os.cpu_count()} cores, load {load()}")
    return Figure("RATIO", "ray_study", on_ray / sequential, "<=", 0.7, note)
