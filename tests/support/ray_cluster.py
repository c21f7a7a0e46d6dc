"""Start and stop a real local Ray cluster on 127.0.0.1 for the `study --ray` tests.

A head (no CPUs: it only schedules) and worker nodes with one CPU each, every node a
`ray start --block` process of its own. Stopping terminates those processes (each tears its
node down), then kills whatever still names this cluster's temporary directory: never any other
Ray on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.llama_server import free_port

RAY = str(Path(sys.executable).with_name("ray"))
STARTED = "Ray runtime started."  # what `ray start` prints once its node has joined


def cluster_environment() -> dict[str, str]:
    """The environment of the nodes (and so of the cells they run) and of drivers joining them."""
    source = str(Path(__file__).resolve().parents[2] / "src")
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_WAIT_POLICY": "PASSIVE", "RAY_AUTH_MODE": "disabled",
            "RAY_USAGE_STATS_ENABLED": "0"}


class RayCluster:
    """A head and `workers` worker nodes of `cpus` CPUs each, on loopback."""

    def __init__(self, workers: int = 2, cpus: int = 1) -> None:
        self.workers, self.cpus = workers, cpus
        self.port = 0
        # Short: Ray's unix socket paths must fit in 107 bytes.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="sgray", dir="/tmp"))
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, name: str, *arguments: str) -> None:
        with (self.temp_dir / f"{name}.log").open("ab") as log:
            self._processes.append(subprocess.Popen(
                [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *arguments],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env=cluster_environment(),
            ))

    def start(self, timeout: float = 180.0) -> RayCluster:
        self.port = free_port()
        self._start("head", "--head", f"--port={self.port}", "--num-cpus=0", "--include-dashboard=false",
                    f"--temp-dir={self.temp_dir}")
        try:
            self._wait_nodes(1, "head", timeout)
            for number in range(self.workers):  # one at a time: a busy 2-core GCS drops simultaneous joins
                self._start(f"worker{number}", f"--address={self.address}", f"--num-cpus={self.cpus}")
                self._wait_nodes(2 + number, f"worker{number}", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def alive_nodes(self) -> int:
        reply = subprocess.run([RAY, "status", f"--address={self.address}"], capture_output=True, text=True,
                               timeout=60, env=cluster_environment())
        active = reply.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return sum(1 for line in active.splitlines() if "node_" in line)

    def _wait_nodes(self, count: int, name: str, timeout: float) -> None:
        """Wait until node `name` says it started (its log: cheap to read), then until `ray status` (a
        second of CPU per call) counts `count` nodes alive."""
        deadline = time.monotonic() + timeout
        log = self.temp_dir / f"{name}.log"
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._processes):
                raise RuntimeError(f"a ray node exited:\n{self.logs()}")
            started = STARTED in log.read_text(errors="replace")
            if started and self.alive_nodes() >= count:
                return
            time.sleep(1.0 if started else 0.2)
        raise RuntimeError(f"the Ray cluster did not reach {count} nodes in {timeout:g}s:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(self.temp_dir.glob("*.log")))

    def stop(self) -> None:
        """Stop every node of this cluster (and only this cluster's processes)."""
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self._processes.clear()
        for pid in self.leftover_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def leftover_pids(self) -> list[int]:
        """Processes whose command line names this cluster's temporary directory."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    command = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.temp_dir).encode() in command:
                    found.append(int(entry.name))
        return found

    def __enter__(self) -> RayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
