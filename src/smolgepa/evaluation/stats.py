"""Small statistics for honest accuracy figures."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def format_accuracy(successes: int, n: int) -> str:
    """'66.7% (4/6, 95% CI 30.0-90.3%)': accuracy with n and its Wilson interval."""
    if n == 0:
        return "n/a (n=0)"
    low, high = wilson_interval(successes, n)
    return f"{100 * successes / n:.1f}% ({successes}/{n}, 95% CI {100 * low:.1f}-{100 * high:.1f}%)"


def mean_and_spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for fewer than two values)."""
    if not values:
        return (float("nan"), 0.0)
    mean = sum(values) / len(values)
    if len(values) < 2:
        return (mean, 0.0)
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return (mean, math.sqrt(variance))
