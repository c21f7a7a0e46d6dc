"""An offline optimization run on agent traces, end to end through the real embedded model: the summary
rendering, the default proposer for traces (counting rules) and no reflection model at all."""

from __future__ import annotations

from pathlib import Path

from smolgepa.optimize import OptimizeConfig, optimize
from smolgepa.optimize.rundir import read_jsonl
from smolgepa.tasks import load_task
from smolgepa.traces.figures import figures
from smolgepa.traces.rules import parse_rules


def test_optimize_agent_monitor_with_summary_and_the_default_offline_proposer(tmp_path: Path) -> None:
    config = OptimizeConfig(task="agent_monitor", render="summary", decode="scored", budget=30, max_proposals=3,
                            run_dir=str(tmp_path / "run"))
    result = optimize(config)
    summary = result.summary
    assert summary["status"] == "finished" and summary["proposer"] == "rules"
    assert "rules proposer" in summary["proposer_note"] and "--render summary" not in summary["proposer_note"]
    proposals = [e for e in read_jsonl(result.run_dir / "events.jsonl")
                 if e["event"] == "iteration" and e.get("proposer") == "rules" and e.get("text")]
    assert proposals, "the rules proposer made no proposal"
    first = parse_rules(proposals[0]["text"])
    task = load_task("agent_monitor", render="summary")
    train = [(figures(ex.raw), ex.label) for ex in task.split("train")]
    assert first is not None and first.accuracy(train) == 1.0  # fitted on the 5 training traces
    assert "fitted on train" in proposals[0]["move"]
    # the student read summaries, and every scored answer is one of the labels
    assert summary["test"]["seed"]["n"] == len(task.split("test"))
    for which in ("seed", "best"):
        assert summary["test"][which]["unparsed"] == 0
    assert (result.run_dir / "best_instruction.txt").read_text(encoding="utf-8").strip() == result.best_instruction
