"""`smolgepa study --ray` on a real local Ray cluster (a head and two worker nodes on loopback):
the cells' tables equal a local run's, cell by cell, also when a worker is killed mid-cell.
Shipping run directories back and forth (`smolgepa.studies.study_cell`) is checked without Ray."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.ray_cluster import RayCluster, cluster_environment

from smolgepa.errors import SmolgepaError
from smolgepa.optimize.run import show
from smolgepa.studies.study_file import load_study
from smolgepa.studies.study_run import run_study
from smolgepa.studies.study_cell import install, pack

SMOLGEPA = [sys.executable, "-m", "smolgepa.cli"]
STUDY = """name: tiny-grid
tasks: [sentiment]
students: [embedded]
reflection: fewshot
seeds: {seeds}
budget: 12
settings:
  max_proposals: 1
  student_max_tokens: 4
"""
CELLS = [f"sentiment__embedded__seed{seed}" for seed in range(4)]


def study_path(tmp_path: Path, seeds: list[int]) -> Path:
    path = tmp_path / f"study{len(seeds)}.yaml"
    path.write_text(STUDY.format(seeds=seeds), encoding="utf-8")
    return path


def tables(run_dir: Path) -> list[str]:
    """`smolgepa show`'s tables of a run, without wall times and its own path."""
    return [line for line in show(run_dir).tables().splitlines() if "took" not in line and str(run_dir) not in line]


def run_on_cluster(path: Path, out: Path, address: str, on_line=None) -> tuple[int, str]:  # noqa: ANN001
    """`smolgepa study PATH --ray ADDRESS` as a user runs it; its exit status and stderr."""
    process = subprocess.Popen([*SMOLGEPA, "study", str(path), "--out", str(out), "--ray", address],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env=cluster_environment())
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if on_line is not None:
            on_line(line)
    return process.wait(timeout=600), "".join(seen)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with RayCluster(workers=2, cpus=1) as started:
        yield started


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same 4-cell study run locally, one cell after another."""
    base = tmp_path_factory.mktemp("local")
    return run_study(load_study(study_path(base, [0, 1, 2, 3])), base / "out").out


def test_install_is_checked_and_atomic(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"config": {"run_dir": "/w/x"}}')
    (run / "summary.json").write_text('{"status": "finished", "run_dir": "/w/x"}')
    blob = pack(run)
    target = tmp_path / "cells" / "x"
    install(blob, "/w/x", target)
    assert (target / "summary.json").read_text() == f'{{"status": "finished", "run_dir": "{target}"}}'
    broken = io.BytesIO()
    with tarfile.open(fileobj=broken, mode="w:gz") as tar:
        tar.add(run / "config.json", arcname="config.json")
    for bad in (blob[: len(blob) // 2], broken.getvalue()):
        with pytest.raises(SmolgepaError, match="cell x"):
            install(bad, "/w/x", target)
        assert (target / "summary.json").is_file()  # the old cell is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["x"]  # no staging left behind


def test_without_ray_one_line_says_how_to_install(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None; from smolgepa.cli import main; "
            f"sys.argv = ['smolgepa', 'study', {str(study_path(tmp_path, [0]))!r}, '--ray']; sys.exit(main())")
    reply = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env=cluster_environment())
    assert reply.returncode != 0
    assert "pip install 'smolgepa[ray]'" in reply.stderr and len(reply.stderr.strip().splitlines()) == 1


def test_an_address_where_nothing_listens_fails_at_once(tmp_path: Path) -> None:
    from support.llama_server import free_port

    started = time.monotonic()
    reply = subprocess.run([*SMOLGEPA, "study", str(study_path(tmp_path, [0])), "--out", str(tmp_path / "out"),
                            "--ray", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=120,
                           env=cluster_environment())
    assert reply.returncode != 0 and "Nothing answers at the Ray address" in reply.stderr, reply.stderr
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_four_cells_on_a_cluster_equal_a_local_run(tmp_path: Path, cluster: RayCluster, local_run: Path) -> None:
    out = tmp_path / "out"
    status, stderr = run_on_cluster(study_path(tmp_path, [0, 1, 2, 3]), out, cluster.address)
    assert status == 0, stderr[-3000:]
    assert len(set(re.findall(r"running on (.+? node \w+)", stderr))) == 2, stderr  # both worker nodes ran cells
    assert "cells: 4 done, 0 running, 0 waiting, 0 failed" in stderr
    for cell in CELLS:
        assert tables(out / "cells" / cell) == tables(local_run / "cells" / cell), cell
    assert (out / "report.md").read_text().replace(str(out), "OUT") == \
        (local_run / "report.md").read_text().replace(str(local_run), "OUT")
    assert not [p for p in (out / "cells").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_worker_killed_mid_cell(tmp_path: Path, cluster: RayCluster, local_run: Path) -> None:
    killed: list[str] = []

    def kill_first_worker(line: str) -> None:
        found = re.search(r"\] (\S+): running on .* pid (\d+)", line)
        if found and not killed:
            time.sleep(4.0)  # into the cell's seed evaluation
            os.kill(int(found.group(2)), signal.SIGKILL)
            killed.append(found.group(1))

    out = tmp_path / "out"
    status, stderr = run_on_cluster(study_path(tmp_path, [0, 1]), out, cluster.address, kill_first_worker)
    assert status == 0, stderr[-3000:]
    assert killed and f"{killed[0]}: lost on" in stderr and "sending it again (1/2)" in stderr, stderr
    assert f"{killed[0]}: finished (on" in stderr
    for cell in CELLS[:2]:
        assert tables(out / "cells" / cell) == tables(local_run / "cells" / cell), cell


@pytest.mark.slow
def test_an_unfinished_cell_travels_and_resumes(tmp_path: Path, cluster: RayCluster, local_run: Path) -> None:
    """A cell finished with budget 12, now asked for 18, is continued (`--resume`) on a worker from the
    shipped run directory, exactly as the same continuation run locally."""
    path = tmp_path / "more.yaml"
    path.write_text(STUDY.format(seeds=[0]).replace("budget: 12", "budget: 18"), encoding="utf-8")
    for side in ("local", "ray"):
        shutil.copytree(local_run / "cells" / CELLS[0], tmp_path / side / "cells" / CELLS[0])
    run_study(load_study(path), tmp_path / "local")
    status, stderr = run_on_cluster(path, tmp_path / "ray", cluster.address)
    assert status == 0, stderr[-3000:]
    assert f"{CELLS[0]}: queued (resuming)" in stderr
    earlier = (local_run / "cells" / CELLS[0] / "events.jsonl").read_text()
    assert (tmp_path / "ray" / "cells" / CELLS[0] / "events.jsonl").read_text().startswith(earlier)
    assert tables(tmp_path / "ray" / "cells" / CELLS[0]) == tables(tmp_path / "local" / "cells" / CELLS[0])
