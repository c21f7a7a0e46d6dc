"""A run directory on a filesystem that fills mid-run (a real small tmpfs, mounted in a user and mount
namespace with `unshare`; and a file size limit, RLIMIT_FSIZE): `optimize` stops with one line saying
what is full and where, nothing recorded is damaged, and `--resume` once there is space ends exactly
like a run that never met a full disk, without repeating a finished call."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from smolgepa.jsonfiles import read_jsonl
from support.resumable_run import ARGS, SMOLGEPA, TIMEOUT
from support.run_tables import run_tables

pytestmark = pytest.mark.slow

# Inside the namespace: mount a tmpfs of $1 bytes and run. With $5 = "filler", another process fills the
# disk once the run has recorded two iterations (so the next write, usually a cache append, fails). Then
# keep a copy of what was recorded, free space (grow the tmpfs, delete the filler) and resume.
IN_NAMESPACE = """
set -u
mount -t tmpfs -o size="$1" tmpfs "$2"
"$3" -m smolgepa.cli {args} --run-dir "$2/run" 2> "$4/full.err" & run=$!
if [ "$5" = filler ]; then
  until [ "$(cat "$2/run/events.jsonl" 2>/dev/null | grep -c '"iteration"')" -ge 2 ] || ! kill -0 $run 2>/dev/null; do
    sleep 0.05
  done
  cat /dev/zero > "$2/filler" 2>/dev/null
fi
wait $run; echo $? > "$4/full.rc"
cp -a "$2/run" "$4/at-full"
rm -f "$2/filler"
mount -o remount,size=16m tmpfs "$2"
"$3" -m smolgepa.cli optimize --resume --run-dir "$2/run" --quiet 2> "$4/resume.err" > /dev/null; echo $? > "$4/resume.rc"
cp -a "$2/run" "$4/resumed"
"""


@pytest.fixture
def whole(finished_run: Path) -> Path:
    """The uninterrupted run (the session's, see conftest)."""
    return finished_run


def namespaces_allowed() -> bool:
    try:
        return subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def check_stopped_cleanly(error: str, at_full: Path, what: str) -> None:
    """One line naming the file and what is full; every recorded file whole (no part-line, no temporary)."""
    lines = error.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smolgepa: error: Cannot write "), error[-3000:]
    assert what in lines[0] and "--resume" in lines[0], lines[0]
    assert not list(at_full.rglob("*.tmp")), "a temporary file was left behind"
    json.loads((at_full / "config.json").read_text())
    if (at_full / "summary.json").exists():
        json.loads((at_full / "summary.json").read_text())
    for name in ("events.jsonl", "cache/student.jsonl"):
        data = (at_full / name).read_bytes() if (at_full / name).exists() else b""
        assert not data or data.endswith(b"\n"), f"{name} ends in a part-line"
        read_jsonl(at_full / name)


def check_resumed_like_whole(at_full: Path, resumed: Path, whole: Path) -> None:
    assert run_tables(resumed) == run_tables(whole)
    for name in ("events.jsonl", "cache/student.jsonl"):
        before = (at_full / name).read_bytes() if (at_full / name).exists() else b""
        assert (resumed / name).read_bytes().startswith(before), f"{name}: recorded lines changed on resume"
    keys = [r["key"] for r in read_jsonl(resumed / "cache" / "student.jsonl")]
    assert len(keys) == len(set(keys)), "a finished student call was made again"


@pytest.mark.parametrize(("size", "mode"), [("16k", "small"), ("28k", "small"), ("8m", "filler")])
def test_a_full_tmpfs_stops_the_run_in_one_line_and_resume_finishes_it(whole: Path, tmp_path: Path,
                                                                        size: str, mode: str) -> None:
    if not namespaces_allowed():
        pytest.skip("unshare -r -m is not allowed here (no user namespaces); the RLIMIT_FSIZE test still runs")
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = IN_NAMESPACE.format(args=" ".join(ARGS))
    subprocess.run(["unshare", "-r", "-m", "sh", "-c", script, "sh", size, str(mount), sys.executable, str(tmp_path), mode],
                   check=True, timeout=2 * TIMEOUT)
    assert (tmp_path / "full.rc").read_text().strip() == "2", (tmp_path / "full.err").read_text()[-3000:]
    check_stopped_cleanly((tmp_path / "full.err").read_text(), tmp_path / "at-full", "the filesystem is full")
    assert (tmp_path / "resume.rc").read_text().strip() == "0", (tmp_path / "resume.err").read_text()[-3000:]
    check_resumed_like_whole(tmp_path / "at-full", tmp_path / "resumed", whole)


def limit_file_size(limit: int) -> None:
    """In the child: writes past `limit` bytes fail with EFBIG (instead of the default SIGXFSZ kill)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_file_size_limit_stops_the_run_in_one_line_and_resume_finishes_it(whole: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    full = subprocess.run([*SMOLGEPA, *ARGS, "--run-dir", str(run_dir)], capture_output=True, text=True,
                          timeout=TIMEOUT, preexec_fn=lambda: limit_file_size(6000))
    assert full.returncode == 2, full.stderr[-3000:]
    at_full = tmp_path / "at-full"
    shutil.copytree(run_dir, at_full)
    check_stopped_cleanly(full.stderr, at_full, "file size limit")
    resumed = subprocess.run([*SMOLGEPA, "optimize", "--resume", "--run-dir", str(run_dir), "--quiet"],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    check_resumed_like_whole(at_full, run_dir, whole)
