"""Refuse a lock file that pins a known-compromised release or leaves a package without a hash.

Usage: python scripts/check_lock.py [requirements.lock]
Exit status 1 with one line per problem; 0 when the lock is clean.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Releases published by an attacker to the registry (litellm supply-chain incident).
COMPROMISED = {"litellm": {"1.82.7", "1.82.8"}}

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s\\;]+)")


def lock_problems(text: str, where: str = "requirements.lock") -> list[str]:
    """Return one message per problem found in the lock file text."""
    problems: list[str] = []
    entries: list[tuple[int, str, str, str]] = []  # (line number, name, version, full entry)
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not current:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = number
        current.append(line)
        if not line.rstrip().endswith("\\"):
            entry = " ".join(current)
            current = []
            match = _PIN.match(entry.strip())
            if not match:
                problems.append(f"{where}:{start}: not an exact pin (name==version): {entry.strip()[:80]}")
                continue
            entries.append((start, match.group(1).lower().replace("_", "-"), match.group(3), entry))
    for number, name, version, entry in entries:
        if version in COMPROMISED.get(name, set()):
            problems.append(
                f"{where}:{number}: {name}=={version} is a known-compromised release; "
                f"pin another version and re-run scripts/lock"
            )
        if "--hash=sha256:" not in entry:
            problems.append(f"{where}:{number}: {name}=={version} has no sha256 hash; re-run scripts/lock")
    return problems


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    problems = lock_problems(path.read_text(encoding="utf-8"), str(path))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
