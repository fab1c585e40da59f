"""What the static checks report: one `Finding` per problem, an error or a warning, located at
the spec entry of the node that caused it. The op classes (`ir/ops.py`) produce them from their
own `check`; `resnet_spec.ir.check` collects and judges them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resnet_spec.errors import GraphError, Loc, Note, SpecError


@dataclass(frozen=True)
class Finding:
    """One result of the checks: an error makes the spec invalid, a warning does not."""

    severity: Literal["error", "warning"]
    message: str
    loc: Loc | None
    hint: str = ""
    node: str = ""
    check: str = ""
    """Which check found it: a key of `origin.CAUSES`, which lists the spec fields it reads."""
    notes: tuple[Note, ...] = ()

    def __str__(self) -> str:
        return str(self.as_error()) if self.severity == "error" else f"warning: {self.as_error()}"

    def as_error(self) -> SpecError:
        return GraphError(self.message, self.loc, self.hint, self.notes)
