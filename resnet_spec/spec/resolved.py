"""`spec.resolved.yaml`: a spec with `extends` merged and every default written out, so that
it stands on its own (it validates again and reads back as the same settings).

Strings are written so that every YAML reader gets them back exactly: plain only where both
YAML 1.2 (our loader) and YAML 1.1 (PyYAML's `safe_load`, many other tools) read the text as
that same string, double-quoted with escapes otherwise. So a description `1e3`, `0o17`, `yes`,
`null`, `~`, one with leading spaces, a line break or a U+2028 comes back unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from resnet_spec.spec.schema import Spec
from resnet_spec.spec.yaml_source import reads_as_string
from resnet_spec.version import __version__

# One line of ordinary characters, not starting or ending with a space: a candidate for plain
# style (PyYAML's emitter still quotes it where YAML syntax needs, e.g. `a: b` or `#x`).
_ONE_LINE = re.compile(r"^[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]"
                       r"(?:[^\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]*"
                       r"[^\s\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff])?$")


def resolved_dict(spec: Spec) -> dict[str, Any]:
    """The spec as plain data with every default written out and nothing left to inherit."""
    # `regnet` is written out as the stages and block settings it generated
    data = spec.model_dump(mode="json", exclude={"extends", "regnet"})
    data["block"]["expansion"] = spec.block.out_expansion
    options = spec.block.kind_options()  # a plugin kind's settings, its defaults filled in
    if options is not None:
        data["block"]["options"] = options.model_dump(mode="json")
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


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing strings as `_represent_str` says."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    plain = _ONE_LINE.match(text) is not None and reads_as_string(text)
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=None if plain else '"')


_Dumper.add_representer(str, _represent_str)


def resolved_yaml(spec: Spec) -> str:
    """`spec.resolved.yaml`: the resolved spec, one flow mapping per stage, keys in schema order."""
    header = f"# {spec.name}, resolved by resnet-spec {__version__}: extends merged, "
    body = yaml.dump(
        resolved_dict(spec), Dumper=_Dumper, sort_keys=False, default_flow_style=None,
        allow_unicode=True, width=1 << 30,  # never folded: a folded quoted line is fragile
    )
    return header + "defaults written out\n" + body
