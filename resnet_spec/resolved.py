"""`spec.resolved.yaml`: a spec with `extends` merged and every default written out, so that
it stands on its own (it validates again and reads back as the same settings)."""

from __future__ import annotations

from typing import Any

import yaml

from resnet_spec.schema import Spec
from resnet_spec.version import __version__


def resolved_dict(spec: Spec) -> dict[str, Any]:
    """The spec as plain data with every default written out and nothing left to inherit."""
    data = spec.model_dump(mode="json", exclude={"extends"})
    data["block"]["expansion"] = spec.block.out_expansion
    for index, stage in enumerate(data["stages"]):
        stage["shortcut"] = spec.stage_shortcut(index).value
        stage["block"] = {k: v for k, v in stage["block"].items() if v is not None}
        if not stage["block"]:
            del stage["block"]
    if data["head"] is None:
        data["head"] = "none"
    return _drop_nones(data)


def _drop_nones(value: Any) -> Any:
    """Leave out unset optional fields (`se`, `features`, `widths`): absent means unset."""
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    return value


def resolved_yaml(spec: Spec) -> str:
    """`spec.resolved.yaml`: the resolved spec, one flow mapping per stage, keys in schema order."""
    header = f"# {spec.name}, resolved by resnet-spec {__version__}: extends merged, "
    body = yaml.safe_dump(
        resolved_dict(spec), sort_keys=False, default_flow_style=None, allow_unicode=True,
        width=4096,
    )
    return header + "defaults written out\n" + body
