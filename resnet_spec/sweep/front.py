"""The Pareto front of a sweep: the variants no other beats on both counts, more capacity
(MACs or params) for no more cost (activations, the static stand-in for runtime that
Radosavovic et al. 2020 found tracks GPU time, or the measured latency)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def pareto_front(items: Sequence[T], capacity: Callable[[T], float],
                 cost: Callable[[T], float]) -> list[T]:
    """The items not dominated (another with capacity >= and cost <=, one of them strictly),
    by ascending cost. Ties in both keep the first."""
    ordered = sorted(items, key=lambda i: (cost(i), -capacity(i)))
    front: list[T] = []
    best = float("-inf")
    for item in ordered:
        if capacity(item) > best:
            front.append(item)
            best = capacity(item)
    return front


def spread(front: Sequence[T], count: int) -> list[T]:
    """`count` items of `front` evenly along it, both ends included (all where it is short)."""
    if count >= len(front):
        return list(front)
    if count == 1:
        return [front[-1]]
    step = (len(front) - 1) / (count - 1)
    return [front[round(i * step)] for i in range(count)]
