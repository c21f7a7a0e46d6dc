"""benchmarks/bench_speed.py: the issue-18 RATIO lines, as printed, through the real embedded default."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from test_bench_traces import parse  # noqa: E402


@pytest.mark.slow
def test_prefill_and_trace_lines_compare_the_default_with_plain_llama_cpp() -> None:
    import bench  # noqa: F401 - bench_speed imports it as `bench`
    from bench_speed import decode_threads, prefill_figures, trace_prefill_efficiency

    from smolgepa.lm import make_lm

    lm = make_lm("embedded")
    figures = [*prefill_figures(lm, rounds=1), decode_threads(lm, rounds=1), trace_prefill_efficiency(2)]
    lines = parse("\n".join(figure.line() for figure in figures))
    assert {name: (m["op"], float(m["target"])) for name, m in lines.items()} == {
        "prefill_speed": (">=", 1.5), "prefill_vs_raw": (">=", 0.9), "decode_threads": (">=", 1.2),
        "trace_prefill_efficiency": (">=", 0.7)}
    assert all(float(m["value"]) > 0 and ("tok/s" in m["note"] or "ms/token" in m["note"]) for m in lines.values())
    assert "same tokens: yes" in lines["decode_threads"]["note"]  # one decoding thread picks what two pick
    assert "n=2 agent_monitor-extended test" in lines["trace_prefill_efficiency"]["note"]
    from smolgepa.lm.local.reencode import REENCODE_BY_DEFAULT

    if REENCODE_BY_DEFAULT and "flash_attn True" not in lines["prefill_speed"]["note"]:
        pytest.fail(f"the default student is not the re-encoded one: {lines['prefill_speed']['note']}")
