#!/usr/bin/env python3
"""Rebuild the built-in tasks made from public, human-written datasets that smolgepa did not write.

    python scripts/import_public_tasks.py \
        --phrasebank /work/.mirror/wychen-null+project_nlp_cuda/repo \
        --clinc /work/.mirror/clinc+oos-eval/repo

Each argument is a clone (bare or not) of the source repository; the files are read with `git show` at the
pinned commit below, so the output does not depend on what else the clone holds. The script writes, into
src/smolgepa/tasks/data/, for each task: `<name>.jsonl` (the examples with fixed train/val/test splits) and
`<name>.provenance.md` (source, licence, citation, sampling and what was dropped). The task YAML files are
written by hand and not touched. Running it again on the same sources rebuilds the same bytes; `--check`
only compares. Standard library only; it needs git and is not run in CI.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "src" / "smolgepa" / "tasks" / "data"
SEED = 20261205
MAX_CHARS = 400
SPLIT_NAMES = ("train", "val", "test")

PHRASEBANK = {
    "name": "financial_phrasebank",
    "repository": "https://github.com/wychen-null/project_nlp_cuda",
    "commit": "85f8c4fcd3a7f3be374279fd291f904f9436c9ab",
    "path": "data/FinancialPhraseBank-v1.0/Sentences_AllAgree.txt",
    "licence_path": "data/FinancialPhraseBank-v1.0/License.txt",
    "per_label": {"train": 100, "val": 40, "test": 100},
    "labels": ("positive", "negative", "neutral"),
}

CLINC = {
    "name": "clinc_domains",
    "repository": "https://github.com/clinc/oos-eval",
    "commit": "828f8093932c8fe6ca7936c3d2e52903b1c523de",
    "path": "data/data_full.json",
    "domains_path": "data/domains.json",
    "licence_path": "LICENSE",
    "per_label": {"train": 50, "val": 20, "test": 50},
    # task label -> CLINC150 domain (label words the student can read; the domains not listed are left out)
    "labels": {
        "banking": "banking",
        "food": "kitchen_and_dining",
        "home": "home",
        "car": "auto_and_commute",
        "travel": "travel",
        "utility": "utility",
    },
}


def git_show(repo: Path, commit: str, path: str) -> str:
    """The text of `path` at `commit` in the git repository `repo` (a bare clone or a work tree)."""
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
        check=True,
        capture_output=True,
    )
    return result.stdout.decode("utf-8")


def norm_key(text: str) -> str:
    """The duplicate key: lower case, punctuation and spacing removed (as tests/test_tasks.py compares)."""
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def dedupe(rows: list[dict[str, Any]], drop: Counter[str]) -> list[dict[str, Any]]:
    """Drop inputs over MAX_CHARS; of texts that repeat (same key), keep the first when every copy agrees on
    the label and on the original split, and drop every copy otherwise. Counts what it drops in `drop`."""
    kept = []
    for row in rows:
        if len(row["text"]) > MAX_CHARS:
            drop["longer than 400 characters"] += 1
        else:
            kept.append(row)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in kept:
        groups[norm_key(row["text"])].append(row)
    result = []
    for row in kept:
        group = groups[norm_key(row["text"])]
        if len(group) == 1:
            result.append(row)
            continue
        if len({r["label"] for r in group}) > 1:
            drop["repeated text with different labels (every copy dropped)"] += 1
        elif len({r.get("origin_split") for r in group}) > 1:
            drop["repeated text in two original splits (every copy dropped)"] += 1
        elif row is group[0]:
            result.append(row)
        else:
            drop["repeated text, same label (later copies dropped)"] += 1
    return result


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def assemble(
    prefix: str, pools: dict[str, dict[str, list[dict[str, Any]]]], per_label: dict[str, int], rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Sample `per_label[split]` of each label from `pools[split][label]`; return rows in file order.

    A pool is shuffled once with `rng` and cut in order, so the same pool object may serve several splits
    (its rows are then disjoint by construction).
    """
    taken: dict[int, int] = defaultdict(int)  # id(pool) -> rows already used
    shuffled: dict[int, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    for split in SPLIT_NAMES:
        chosen = []
        counts[split] = {}
        for label in pools[split]:
            pool = pools[split][label]
            if id(pool) not in shuffled:
                shuffled[id(pool)] = list(pool)
                rng.shuffle(shuffled[id(pool)])
            start = taken[id(pool)]
            need = per_label[split]
            picked = shuffled[id(pool)][start : start + need]
            if len(picked) < need:
                sys.exit(f"{prefix}: only {len(picked)} {label} examples left for {split}, need {need}")
            taken[id(pool)] += need
            chosen.extend(picked)
            counts[split][label] = len(picked)
        rng.shuffle(chosen)
        rows.extend({**row, "split": split} for row in chosen)
    numbered = []
    for index, row in enumerate(rows, start=1):
        out = {"id": f"{prefix}{index:04d}", "text": row["text"], "label": row["label"], "split": row["split"]}
        if "source_label" in row:
            out["source_label"] = row["source_label"]
        numbered.append(out)
    return numbered, counts


def counts_table(counts: dict[str, dict[str, int]]) -> str:
    labels = list(next(iter(counts.values())))
    lines = ["| split | " + " | ".join(labels) + " | total |", "|---" * (len(labels) + 2) + "|"]
    for split, per in counts.items():
        lines.append(f"| {split} | " + " | ".join(str(per[label]) for label in labels) + f" | {sum(per.values())} |")
    return "\n".join(lines)


def drops_text(drop: Counter[str], rows: list[dict[str, Any]]) -> str:
    """The drop counts as an indented list, and the longest input kept."""
    lines = [f"  - {reason}: {count}" for reason, count in sorted(drop.items())]
    if not drop["longer than 400 characters"]:
        lines.append(f"  - longer than {MAX_CHARS} characters: none (the longest kept is {max(len(r['text']) for r in rows)})")
    return "\n".join(lines)


def build_phrasebank(repo: Path) -> dict[str, str]:
    spec = PHRASEBANK
    text = git_show(repo, spec["commit"], spec["path"])
    licence = git_show(repo, spec["commit"], spec["licence_path"])
    assert "Attribution-NonCommercial-ShareAlike 3.0" in licence, "the licence file changed"
    raw = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        sentence, label = line.rsplit("@", 1)
        raw.append({"text": sentence.strip(), "label": label.strip()})
    source_counts = Counter(row["label"] for row in raw)
    drop: Counter[str] = Counter()
    rows = dedupe(raw, drop)
    by_label: dict[str, list[dict[str, Any]]] = {label: [] for label in spec["labels"]}
    for row in rows:
        by_label[row["label"]].append(row)
    pools = {split: by_label for split in SPLIT_NAMES}
    rng = random.Random(SEED)
    out, counts = assemble("fpb", pools, spec["per_label"], rng)
    unused = {label: len(by_label[label]) - sum(counts[s][label] for s in SPLIT_NAMES) for label in spec["labels"]}
    provenance = f"""# financial_phrasebank: provenance

Real, human-labelled data that smolgepa did not write. Built by `scripts/import_public_tasks.py`
(rebuilds `financial_phrasebank.jsonl` and this file byte for byte from the source below).

## Source

- Dataset: Financial PhraseBank v1.0, the `Sentences_AllAgree` set (sentences on which every annotator
  agreed). English sentences from financial news about (mostly Finnish) listed companies, each labelled
  positive, negative or neutral by 5 to 8 annotators with a background in finance (researchers and
  master's students of Aalto University School of Business), judging whether the news may influence the
  stock price, from an investor's point of view.
- Authors: Pekka Malo, Ankur Sinha, Pekka Korhonen, Jyrki Wallenius, Pyry Takala.
- Citation: Malo, P., Sinha, A., Korhonen, P., Wallenius, J., & Takala, P. (2014). Good debt or bad debt:
  Detecting semantic orientations in economic texts. Journal of the Association for Information Science
  and Technology, 65(4), 782-796. https://arxiv.org/abs/1307.5336
- Fetched from: {spec['repository']} (a third-party copy of the authors' release, with its
  License.txt and README.txt), commit `{spec['commit']}`, file `{spec['path']}`.
- Licence: **Creative Commons Attribution-NonCommercial-ShareAlike 3.0 Unported (CC BY-NC-SA 3.0)**, as
  stated by the release's own `{spec['licence_path']}`. Redistribution is allowed with attribution, for
  non-commercial use, under the same licence. **This licence covers `financial_phrasebank.jsonl`; it is
  not smolgepa's MIT licence.** Commercial use of the data needs a licence from the authors
  (pekka.malo@aalto.fi, ankur.sinha@aalto.fi).

## Sampling

- Source rows: {len(raw)} ({', '.join(f'{label} {source_counts[label]}' for label in spec['labels'])}).
- Dropped before sampling (inputs are kept verbatim, including the release's tokenised spacing such as
  `profit rose .` and its mis-encoded letters such as `Sepp+ñl+ñ`; texts compared lower-cased with
  punctuation and spacing removed):
{drops_text(drop, rows)}
- Remaining per label: {', '.join(f'{label} {len(by_label[label])}' for label in spec['labels'])}.
- The release has no splits. Each label's remaining sentences were shuffled with
  `random.Random({SEED})` and cut in order into train, val and test, so no text is in two splits; each
  split was then shuffled with the same generator. Unused: {', '.join(f'{label} {n}' for label, n in unused.items())}.
- Counts (balanced):

{counts_table(counts)}

## Use

The test split is never used to tune anything (no instruction, example, reading, threshold or
hyper-parameter is chosen on it); choose on train (out-of-fold) and val, and report test once.
"""
    return {"jsonl": jsonl(out), "provenance": provenance}


def build_clinc(repo: Path) -> dict[str, str]:
    spec = CLINC
    data = json.loads(git_show(repo, spec["commit"], spec["path"]))
    domains = json.loads(git_show(repo, spec["commit"], spec["domains_path"]))
    licence = git_show(repo, spec["commit"], spec["licence_path"])
    assert "Attribution 3.0 Unported" in licence, "the licence file changed"
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}
    label_of = {domain: label for label, domain in spec["labels"].items()}
    origin = {"train": "train", "val": "val", "test": "test"}
    raw = []
    source_counts: dict[str, Counter[str]] = {split: Counter() for split in SPLIT_NAMES}
    for split, key in origin.items():
        for text, intent in data[key]:
            domain = domain_of[intent]
            if domain not in label_of:
                continue
            source_counts[split][label_of[domain]] += 1
            raw.append(
                {"text": text.strip(), "label": label_of[domain], "source_label": intent, "origin_split": split}
            )
    drop: Counter[str] = Counter()
    rows = dedupe(raw, drop)
    pools: dict[str, dict[str, list[dict[str, Any]]]] = {
        split: {label: [] for label in spec["labels"]} for split in SPLIT_NAMES
    }
    for row in rows:
        pools[row["origin_split"]][row["label"]].append(row)
    rng = random.Random(SEED)
    out, counts = assemble("clinc", pools, spec["per_label"], rng)
    intents_used = Counter(row["source_label"] for row in out)
    mapping = "\n".join(
        f"  - `{label}` = CLINC150 domain `{domain}` (intents: {', '.join(f'`{i}`' for i in domains[domain])})"
        for label, domain in spec["labels"].items()
    )
    left_out = ", ".join(f"`{d}`" for d in domains if d not in label_of)
    provenance = f"""# clinc_domains: provenance

Real, human-written data that smolgepa did not write. Built by `scripts/import_public_tasks.py`
(rebuilds `clinc_domains.jsonl` and this file byte for byte from the source below).

## Source

- Dataset: CLINC150 ("An Evaluation Dataset for Intent Classification and Out-of-Scope Prediction"),
  the `data_full` version: short English requests to a task-oriented virtual assistant, written by crowd
  workers, each for a given intent (paraphrasing a seed phrase or answering a scenario such as "pretend
  you need to book a flight"), in 150 intents grouped by the authors into 10 domains. The label here is
  the domain of the example's intent, by the repository's `{spec['domains_path']}`.
- Citation: Stefan Larson, Anish Mahendran, Joseph J. Peper, Christopher Clarke, Andrew Lee, Parker
  Hill, Jonathan K. Kummerfeld, Kevin Leach, Michael A. Laurenzano, Lingjia Tang, Jason Mars (2019). An
  Evaluation Dataset for Intent Classification and Out-of-Scope Prediction. EMNLP-IJCNLP 2019.
  https://www.aclweb.org/anthology/D19-1131
- Fetched from: {spec['repository']} (the authors' repository), commit `{spec['commit']}`, files
  `{spec['path']}` and `{spec['domains_path']}`.
- Licence: **Creative Commons Attribution 3.0 Unported (CC BY 3.0)**, the repository's `LICENSE`.
  Redistribution and adaptation are allowed with attribution (this file is the attribution; the label
  renaming and sampling below are the changes).

## Labels

Six of the ten domains, renamed to one plain word each so that the student can read the label:
{mapping}

Left out: {left_out}, to keep six labels that a reader can tell apart (`credit_cards` overlaps
`banking`, and `work` overlaps it too: income, taxes, insurance; `small_talk` and `meta` are talk with
or about the assistant rather than a topic), and the out-of-scope queries. Each row keeps its original
intent in `source_label` (not read by smolgepa).

## Sampling

- Source rows in the six domains (original splits): {', '.join(f'{s} {sum(c.values())}' for s, c in source_counts.items())}
  (per domain: 1500 train, 300 val, 450 test).
- Dropped before sampling (texts compared lower-cased with punctuation and spacing removed; inputs are
  otherwise kept verbatim, lower case as released):
{drops_text(drop, rows)}
- Each split is drawn from the same split of the original release (test only from the original test),
  per domain: shuffled with `random.Random({SEED})` and the first rows taken; each split then shuffled
  with the same generator. {len(intents_used)} of the 90 intents appear.
- Counts (balanced):

{counts_table(counts)}

## Use

The test split is never used to tune anything (no instruction, example, reading, threshold or
hyper-parameter is chosen on it); choose on train (out-of-fold) and val, and report test once.
"""
    return {"jsonl": jsonl(out), "provenance": provenance}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phrasebank", type=Path, required=True, help="clone of wychen-null/project_nlp_cuda")
    parser.add_argument("--clinc", type=Path, required=True, help="clone of clinc/oos-eval")
    parser.add_argument("--check", action="store_true", help="compare with the shipped files; write nothing")
    args = parser.parse_args()
    outputs = {"financial_phrasebank": build_phrasebank(args.phrasebank), "clinc_domains": build_clinc(args.clinc)}
    stale = []
    for name, files in outputs.items():
        for kind, text in files.items():
            path = DATA / (f"{name}.jsonl" if kind == "jsonl" else f"{name}.provenance.md")
            if args.check:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path))
            else:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    if stale:
        sys.exit("differs from the sources: " + ", ".join(stale))
    if args.check:
        print("the shipped files match the sources")


if __name__ == "__main__":
    main()
