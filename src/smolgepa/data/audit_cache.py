"""What `data audit` keeps between runs, so that a run stopped by its verifier repeats no finished work.

The out-of-fold probabilities (minutes of the student's reading) are kept in the cache directory
(`$SMOLGEPA_CACHE_DIR/audits/KEY.json`, `--no-cache` bypasses it), and the verifier's verdicts beside them
(`KEY.verifier.jsonl`, one record a question). KEY is a sha256 over everything the probabilities depend on:
the source, the student's identity and decode settings (`Student.identity`, `Student.key_extras`: the
model file's sha256, the reading, its labels and training pairs), the instruction, and every audited
example's id, input, label and split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smolgepa.data.fold_probs import LabelProbabilities
from smolgepa.jsonfiles import Redactor, write_json_atomic
from smolgepa.tasks.model import Example

SCHEMA = 1


def audit_key(source: str, examples: Sequence[Example], **depends_on: Any) -> str:
    """The key of an audit's probabilities: `source`, the audited examples and what else they depend on."""
    data = {"schema": SCHEMA, "source": source, "depends_on": depends_on,
            "examples": [[e.id, e.input, e.label, e.split] for e in examples]}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class AuditCache:
    """The probabilities and verifier replies of one audit (by its key) in `directory`."""

    def __init__(self, directory: Path, key: str) -> None:
        self.path = directory / f"{key}.json"
        self.verifier_path = directory / f"{key}.verifier.jsonl"

    def load(self) -> LabelProbabilities | None:
        """The kept probabilities, or None (none kept, or a file that does not read as them)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return LabelProbabilities(data["source"], tuple(data["names"]), tuple(data["ids"]), tuple(data["labels"]),
                                      tuple(data["splits"]), np.asarray(data["probs"], dtype=float))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, probabilities: LabelProbabilities) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {
            "source": probabilities.source, "names": list(probabilities.names), "ids": list(probabilities.ids),
            "labels": list(probabilities.labels), "splits": list(probabilities.splits),
            "probs": probabilities.probs.tolist()}, Redactor())
