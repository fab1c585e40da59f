"""`--where` constraints: `params<=30M`, `macs<4G`, `activations>=1e7`, on the figures a
sweep counts, with the suffixes K, M, G, T (thousands up to trillions)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from resnet_spec.sweep.costing import FIGURES, Costed
from resnet_spec.sweep.space import SpaceError

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
    "==": operator.eq}
_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_FORM = re.compile(r"^\s*([a-z]+)\s*(<=|>=|==|<|>)\s*([0-9.eE+-]+)\s*([KMGT]?)\s*$")


@dataclass(frozen=True)
class Constraint:
    figure: str
    op: str
    value: float
    text: str
    """As written: `params<=30M`."""

    def holds(self, costed: Costed) -> bool:
        return costed.valid and _OPERATORS[self.op](costed.figure(self.figure), self.value)

    def __str__(self) -> str:
        return self.text


def parse_where(texts: Sequence[str]) -> list[Constraint]:
    out = []
    for text in texts:
        match = _FORM.match(text)
        if match is None or match[1] not in FIGURES:
            raise SpaceError(f"--where {text!r}: expected FIGURE OP NUMBER[K|M|G|T] with "
                             f"FIGURE one of {', '.join(FIGURES)} and OP one of "
                             f"{', '.join(_OPERATORS)} (e.g. 'params<=30M')")
        try:
            number = float(match[3])
        except ValueError:
            raise SpaceError(f"--where {text!r}: {match[3]!r} is not a number") from None
        out.append(Constraint(match[1], match[2], number * _SUFFIXES[match[4]],
                              text.replace(" ", "")))
    return out


def within(costed: Costed, constraints: Sequence[Constraint]) -> bool:
    """Valid, and every constraint holds."""
    return costed.valid and all(c.holds(costed) for c in constraints)
