"""The one way `show`, `validate` and `diff` read a spec, so that what changes how specs are
read (such as `--set` overrides) is added in one place."""

from __future__ import annotations

from collections.abc import Sequence

from resnet_spec.spec.schema import Spec


def load_spec(ref: str, overrides: Sequence[str] = ()) -> Spec:
    """Load, merge and validate the spec at `ref` (a file or a built-in name), with `--set`'s
    `overrides` applied after `extends`; raises `SpecError` at the file, line and column of
    what is wrong (or at the `--set` option)."""
    from resnet_spec.spec.loader import load

    return load(ref, overrides)
