#!/usr/bin/env python3
"""A stand-in reflection CLI for tests (used as `cmd:python reflector.py MODE ...`).

Modes:
    script ANSWERS STATE LOG   answer with the next entry of the JSON list ANSWERS (the count of
                               calls so far is kept in the file STATE); append each prompt to LOG.
                               An entry is {"text": ...}, {"exit": N} or {"sleep": SECONDS}.
    answer TEXT                print TEXT inside a ``` block
    vary                       answer with one of VARIANTS, chosen by the prompt's sha256: the same
                               prompt, the same answer (a resumed run asks what it asked before)
    hang                       never read the prompt; sleep far longer than any test timeout
    fail                       print to stderr and exit with status 3
    binary                     print bytes that are not UTF-8 around a fenced instruction
    enormous MEGABYTES         print a fenced instruction, then MEGABYTES of two-byte characters
    noisy-fail MEGABYTES       write MEGABYTES to stderr, then the real reason, and exit with status 4
    deaf                       answer without reading the prompt
"""

import hashlib
import json
import sys
import time
from pathlib import Path


VARIANTS = (
    "Classify the sentiment of the text as positive, negative or neutral. Answer with one word.",
    "Is the text positive, negative or neutral? Answer with the label only.",
    "Read the text and name its feeling: positive, negative or neutral.",
    "Answer positive when the text praises, negative when it complains, neutral otherwise.",
)


def main() -> int:
    mode = sys.argv[1]
    if mode == "hang":
        time.sleep(600)
        return 0
    if mode == "deaf":
        sys.stdout.write("```\nAnswer without reading.\n```\n")
        return 0
    prompt = sys.stdin.read()
    if mode == "script":
        answers = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        state = Path(sys.argv[3])
        calls = int(state.read_text()) if state.exists() else 0
        state.write_text(str(calls + 1))
        with open(sys.argv[4], "a", encoding="utf-8") as log:
            log.write(json.dumps({"call": calls, "prompt": prompt}) + "\n")
        entry = answers[min(calls, len(answers) - 1)]
        if "sleep" in entry:
            time.sleep(entry["sleep"])
        if "exit" in entry:
            sys.stderr.write(f"scripted failure {entry['exit']}\n")
            return int(entry["exit"])
        sys.stdout.write(entry.get("text", ""))
        return 0
    if mode == "vary":
        digest = hashlib.sha256(prompt.encode("utf-8")).digest()
        sys.stdout.write(f"```\n{VARIANTS[digest[0] % len(VARIANTS)]}\n```\n")
        return 0
    if mode == "answer":
        sys.stdout.write(f"Here is the new instruction:\n```\n{sys.argv[2]}\n```\n")
        return 0
    if mode == "fail":
        sys.stderr.write("reflector: no API key configured\n")
        return 3
    if mode == "binary":
        sys.stdout.buffer.write(b"\xff\xfe bad bytes\n```\nClassify the text.\n```\n")
        return 0
    if mode == "enormous":
        sys.stdout.write("```\nClassify the text.\n```\n")
        chunk = "\u00e9" * 500_000  # one megabyte of a two-byte character
        for _ in range(int(sys.argv[2])):
            sys.stdout.write(chunk)
        return 0
    if mode == "noisy-fail":
        for _ in range(int(sys.argv[2])):
            sys.stderr.write("warning: something minor\n" * 40_000)
        sys.stderr.write("reflector: the real reason\n")
        return 4
    sys.stderr.write(f"unknown mode {mode}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
