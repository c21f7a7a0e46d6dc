"""Wilson intervals, and the lock-file check that refuses compromised releases."""

import sys
from pathlib import Path

import pytest

from smolgepa.evaluation.stats import format_accuracy, wilson_interval

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_lock import lock_problems  # noqa: E402


def test_wilson_interval_known_value() -> None:
    low, high = wilson_interval(4, 6)
    assert low == pytest.approx(0.3000, abs=1e-3)
    assert high == pytest.approx(0.9032, abs=1e-3)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73
    with pytest.raises(ValueError):
        wilson_interval(7, 6)


def test_format_accuracy_has_n_and_interval() -> None:
    assert format_accuracy(4, 6) == "66.7% (4/6, 95% CI 30.0-90.3%)"


def test_repository_lock_is_clean() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert lock_problems(text) == []
    assert "litellm==" in text


def test_ray_lock_is_clean_and_adds_only_what_the_main_lock_lacks() -> None:
    text = (ROOT / "requirements-ray.lock").read_text()
    assert lock_problems(text, "requirements-ray.lock") == []
    pinned = lambda lock: {line.split("==")[0].lower() for line in lock.splitlines() if "==" in line}  # noqa: E731
    assert "ray" in pinned(text) and not pinned(text) & pinned((ROOT / "requirements.lock").read_text())
    assert "requirements-ray.lock" in (ROOT / "scripts" / "setup").read_text()


@pytest.mark.parametrize("version", ["1.82.7", "1.82.8"])
def test_compromised_litellm_is_refused(version: str) -> None:
    lock = f"litellm=={version} \\\n    --hash=sha256:{'a' * 64}\n"
    problems = lock_problems(lock)
    assert len(problems) == 1 and "compromised" in problems[0]


def test_unhashed_or_unpinned_entries_are_refused() -> None:
    problems = lock_problems("requests==2.0\nnumpy>=1\n")
    assert any("no sha256 hash" in p for p in problems)
    assert any("not an exact pin" in p for p in problems)
