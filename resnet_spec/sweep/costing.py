"""Static costs of variants: each variant's spec validated and elaborated (graph checks
included) and its params, MACs and activations counted by `ir.cost.analyze`, the figures
`summary` prints. The base spec is read once per worker; workers are processes (the work is
pure Python), fed chunks of variants in order."""

from __future__ import annotations

import copy
import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from resnet_spec.cores import usable_cores
from resnet_spec.errors import SpecError
from resnet_spec.spec.loader import SpecInput, load_unvalidated, validate
from resnet_spec.spec.overrides import apply_overrides
from resnet_spec.sweep.space import Variant

FIGURES = ("params", "macs", "activations")
CHUNK = 32
"""Variants per task sent to a worker: large enough that the pickling is noise."""


@dataclass
class Costed:
    """A variant with its figures, or the one-line reason it is not a valid network."""

    variant: Variant
    params: int | None = None
    macs: int | None = None
    activations: int | None = None
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None

    def figure(self, name: str) -> int:
        value = getattr(self, name)
        assert value is not None, f"{name} of an invalid variant"
        return int(value)


class BaseSpec:
    """The base spec merged once; `variant(overrides)` validates a copy with them applied."""

    def __init__(self, spec: SpecInput) -> None:
        self.raw, self.source = load_unvalidated(spec)

    def variant(self, overrides: Iterable[str]) -> Any:
        return validate(*apply_overrides(copy.deepcopy(self.raw), self.source.copy(),
                                         list(overrides)))


def cost(base: BaseSpec, variant: Variant) -> Costed:
    """The variant's figures, or its first error in one line."""
    from resnet_spec.elaboration import elaborate
    from resnet_spec.ir.cost import analyze

    try:
        figures = analyze(elaborate(base.variant(variant.overrides)))
    except SpecError as err:
        return Costed(variant, error=str(err).splitlines()[0])
    return Costed(variant, figures.params, figures.macs, figures.activations)


_WORKER_BASE: BaseSpec | None = None


def _start_worker(spec: SpecInput) -> None:
    global _WORKER_BASE
    # the parent handles Ctrl-C and SIGTERM; a worker just stops (the CLI's handlers, inherited
    # through fork, would print a traceback per worker when the pool ends)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER_BASE = BaseSpec(spec)


def _cost_chunk(chunk: list[Variant]) -> list[Costed]:
    assert _WORKER_BASE is not None
    return [cost(_WORKER_BASE, v) for v in chunk]


def cost_all(spec: SpecInput, variants: Iterable[Variant], *, workers: int | None = None,
             on_done: Callable[[int], None] = lambda n: None) -> list[Costed]:
    """Every variant costed, in order; `on_done(n)` after each chunk of n. One worker runs in
    this process; more run as processes (forked where the platform allows)."""
    workers = workers or usable_cores()
    chunks = _chunks(variants, CHUNK)
    out: list[Costed] = []
    if workers == 1:
        base = BaseSpec(spec)
        for chunk in chunks:
            out += [cost(base, v) for v in chunk]
            on_done(len(chunk))
        return out
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(workers, initializer=_start_worker, initargs=(spec,)) as pool:
        for done in pool.imap(_cost_chunk, chunks):
            out += done
            on_done(len(done))
    return out


def _chunks(variants: Iterable[Variant], size: int) -> Iterator[list[Variant]]:
    chunk: list[Variant] = []
    for variant in variants:
        chunk.append(variant)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
