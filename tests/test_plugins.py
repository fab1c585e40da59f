"""Plugins: a package installed beside the tool adds a block kind and an op through entry points,
and a spec using them goes the whole way (validate with located errors, draw, cost, lower,
export to ONNX); a package that cannot be used is one line and changes nothing else.

The package is `tests/plugins/resnet_spec_tinyplug`, really installed with pip into a folder of
its own (offline); `plugin_site.py` says how.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from plugin_site import TINYPLUG, environment, installed, pip_install, write_dist

import resnet_spec
from resnet_spec import plugins
from resnet_spec.elaboration.blocks import BUILTIN_BLOCK_KINDS
from resnet_spec.errors import SpecError

TINY = """\
name: tiny
input: {channels: 3, height: 32, width: 32}
stem: {width: 8, kernel: 3, stride: 1, pool: none}
block: {kind: scaled_basic, options: {scale_init: 0.5}}
stages:
  - {depth: 1, width: 8}
  - {depth: 1, width: 16, stride: 2}
head: {classes: 10}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny plugin, pip-installed into a folder of its own."""
    return pip_install(TINYPLUG, tmp_path_factory.mktemp("site"),
                       tmp_path_factory.mktemp("source"))


@pytest.fixture
def tinyplug(site: Path) -> Iterator[Path]:
    with installed(site):
        yield site


def spec_file(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, sites: tuple[Path, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "resnet_spec", *args], cwd=cwd,
                          env=environment(*sites), capture_output=True, text=True, timeout=300)


def in_words(names: list[str], last: str) -> str:
    """`a`, `b` or `c` (`last`: "or", "and"), as the messages list choices."""
    quoted = [f"`{name}`" for name in names]
    return f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


def builtin_kinds(*, placing: str = "", plus: tuple[str, ...] = ()) -> list[str]:
    """The built-in block kinds (those that place `placing`, if named), and `plus`."""
    kinds = [k.name for k in BUILTIN_BLOCK_KINDS.values() if not placing or placing in k.places]
    return [*kinds, *plus]


def errors_of(spec: Path) -> str:
    with pytest.raises(SpecError) as caught:
        resnet_spec.elaborate(spec)
    return str(caught.value)


def test_the_plugins_kind_is_validated_with_located_errors(tinyplug: Path,
                                                          tmp_path: Path) -> None:
    good = spec_file(tmp_path)
    graph = resnet_spec.elaborate(good)
    assert [b.kind for b in graph.blocks] == ["scaled_basic", "scaled_basic"]
    assert graph.node("layer2.0.scale").init == 0.5

    bad = spec_file(tmp_path, TINY.replace("scale_init: 0.5", "scale_init: -1, scale_int: 2"))
    assert errors_of(bad).splitlines() == [
        f"{bad}:4:51: block.options.scale_init: must be greater than 0.0, got `-1`",
        f"{bad}:4:55: block.options.scale_int: unknown key `scale_int` (did you mean "
        "`scale_init`?)",
    ]
    typed = spec_file(tmp_path, TINY.replace("0.5", '"big"'))
    assert errors_of(typed) == (f'{typed}:4:51: block.options.scale_init: expected a number, '
                                'got string "big"')
    # a stage's own options are checked at their line
    stage = spec_file(tmp_path, TINY.replace(
        "stride: 2}", "stride: 2, block: {options: {scale_init: 20}}}"))
    assert errors_of(stage) == (f"{stage}:7:68: stages[1].block.options.scale_init: must be at "
                                "most 10.0, got `20`")
    # and a kind without options refuses them
    basic = spec_file(tmp_path, TINY.replace("kind: scaled_basic", "kind: basic"))
    assert errors_of(basic) == (
        f"{basic}:4:31: block.options: the block kind `basic` takes no `options` (only kinds "
        "that declare an options model do; remove them)")
    # a kind whose registration does not place `dropout` refuses it rather than ignoring it
    dropout = spec_file(tmp_path, TINY.replace("scale_init: 0.5}", "scale_init: 0.5}, "
                                               "dropout: 0.2"))
    assert errors_of(dropout) == (
        f"{dropout}:4:66: block.dropout: the block kind `scaled_basic` has no place for "
        f"`dropout` (kinds that take it: "
        f"{in_words(sorted(builtin_kinds(placing='dropout')), 'and')}); remove it")
    unknown = spec_file(tmp_path, TINY.replace("kind: scaled_basic", "kind: scaled"))
    assert errors_of(unknown) == (
        f"{unknown}:4:15: block.kind: expected "
        f"{in_words(sorted(builtin_kinds(plus=('scaled_basic',))), 'or')}, got `scaled`")


def test_a_kind_not_installed_is_unknown(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    assert errors_of(spec).startswith(
        f"{spec}:4:15: block.kind: expected {in_words(sorted(builtin_kinds()), 'or')}, "
        "got `scaled_basic`")


def test_the_plugins_op_is_drawn_and_costed_as_torch_counts_it(tinyplug: Path,
                                                               tmp_path: Path) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from resnet_spec.ir.cost import analyze
    from resnet_spec.render import to_dot

    graph = resnet_spec.elaborate(spec_file(tmp_path))
    assert "channel scale (init 0.5)" in to_dot(graph, level="layers")
    cost = analyze(graph)
    model = resnet_spec.build(graph).eval()
    assert sum(p.numel() for p in model.parameters()) == cost.params
    assert torch.equal(model.get_parameter("layer1.0.scale.weight"), torch.full((8,), 0.5))
    assert type(model.layer1[0]).__name__ == "ScaledBasicBlock"
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 10)
    assert counter.get_total_flops() == 2 * cost.macs  # one multiply and one add per MAC


def test_list_plugins_names_the_package(site: Path, tmp_path: Path) -> None:
    table = run("list", "--plugins", sites=(site,), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines() if "tinyplug" in line]
    assert len(rows) == 2
    assert "scaled_basic" in rows[0] and "resnet-spec-tinyplug" in rows[0]
    listed = run("list", "--plugins", "--json", sites=(site,), cwd=tmp_path)
    assert json.loads(listed.stdout) == [
        {"group": "resnet_spec.blocks", "name": "scaled_basic",
         "package": "resnet-spec-tinyplug", "version": "0.1.0",
         "entry_point": "resnet_spec_tinyplug.blocks:SCALED_BASIC", "registered": True,
         "problem": None},
        {"group": "resnet_spec.ops", "name": "channel_scale",
         "package": "resnet-spec-tinyplug", "version": "0.1.0",
         "entry_point": "resnet_spec_tinyplug.ops:CHANNEL_SCALE", "registered": True,
         "problem": None},
    ]


def test_list_plugins_without_any(run_cli) -> None:
    result = run_cli("list", "--plugins")
    assert result.code == 0
    assert result.out.startswith("no plugins installed")
    assert run_cli("list", "--plugins", "--json").out == "[]\n"


def test_the_schema_lists_the_kind_only_when_installed(site: Path) -> None:
    from resnet_spec.spec.schema import json_schema

    def kinds() -> list[str]:
        return json_schema()["$defs"]["BlockSpec"]["properties"]["kind"]["enum"]

    assert "scaled_basic" not in kinds()
    with installed(site):
        assert kinds() == sorted(builtin_kinds(plus=("scaled_basic",)))
        # editors check the kind's options too
        validator = jsonschema.Draft202012Validator(json_schema())
        assert not list(validator.iter_errors(yaml.safe_load(TINY)))
        bad = yaml.safe_load(TINY.replace("0.5", "-1"))
        assert [e.json_path for e in validator.iter_errors(bad)] == [
            "$.block.options.scale_init"]


@pytest.mark.slow
def test_a_spec_with_the_plugin_builds_and_exports_to_onnx(site: Path, tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    built = run("build", str(spec), "--out", str(tmp_path / "out"), "--to", "onnx",
                sites=(site,), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert "checking model.onnx at batch 3" in built.stderr + built.stdout
    assert "scale_init: 0.5" in (tmp_path / "out" / "spec.resolved.yaml").read_text()
    assert (tmp_path / "out" / "model.onnx").stat().st_size > 0


BROKEN = {
    "resnet_spec.blocks": {"basic": "brokenplug:KIND", "fancy": "brokenplug:KIND"},
    "resnet_spec.ops": {"wobble": "not_a_module:OP"},
}


def test_a_broken_plugin_is_one_line_and_changes_nothing_else(tmp_path: Path) -> None:
    site = write_dist(tmp_path / "site", "brokenplug", "1.0", BROKEN,
                      {"brokenplug.py": "raise RuntimeError('boom')\n"})
    checked = run("validate", "resnet18", sites=(site,), cwd=tmp_path)
    assert checked.returncode == 0
    assert checked.stdout.startswith("ok  resnet18")
    assert checked.stderr.splitlines() == [
        "warning: plugin block kind `basic` of brokenplug 1.0 is not registered: the name "
        "clashes with the built-in block kind of resnet-spec (rename it in brokenplug's entry "
        "points)",
        "warning: plugin block kind `fancy` of brokenplug 1.0 is not registered: "
        "`brokenplug:KIND` cannot be loaded: RuntimeError: boom",
        "warning: plugin op `wobble` of brokenplug 1.0 is not registered: `not_a_module:OP` "
        "cannot be loaded: ModuleNotFoundError: No module named 'not_a_module'",
    ]
    spec = spec_file(tmp_path, TINY.replace("scaled_basic", "fancy"))
    refused = run("validate", str(spec), sites=(site,), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1] == (
        "tiny.yaml:4:15: block.kind: the block kind `fancy` of brokenplug 1.0 is installed but "
        "not registered: `brokenplug:KIND` cannot be loaded: RuntimeError: boom")
    assert "Traceback" not in refused.stderr


def test_two_packages_with_one_name_are_both_refused(site: Path, tmp_path: Path) -> None:
    other = write_dist(tmp_path / "other", "otherplug", "2.0",
                       {"resnet_spec.blocks": {"scaled_basic": "otherplug:KIND"}},
                       {"otherplug.py": "from resnet_spec_tinyplug.blocks import SCALED_BASIC"
                                        " as KIND\n"})
    with pytest.warns(plugins.PluginWarning) as warned, installed(site, other):
        from resnet_spec.spec.schema import block_kinds

        assert "scaled_basic" not in block_kinds()
        assert "channel_scale" in resnet_spec.ir.OP_CLASSES
    assert sorted(str(w.message) for w in warned) == [
        "plugin block kind `scaled_basic` of otherplug 2.0 is not registered: "
        "resnet-spec-tinyplug 0.1.0 also registers the block kind `scaled_basic` (none of them "
        "is registered; uninstall all but one)",
        "plugin block kind `scaled_basic` of resnet-spec-tinyplug 0.1.0 is not registered: "
        "otherplug 2.0 also registers the block kind `scaled_basic` (none of them is "
        "registered; uninstall all but one)",
    ]


def test_validating_and_drawing_with_the_plugin_never_imports_torch(site: Path,
                                                                    tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    code = ("import sys\nimport resnet_spec\nfrom resnet_spec.render import to_dot\n"
            f"graph = resnet_spec.elaborate({str(spec)!r})\nto_dot(graph, level='layers')\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    checked = subprocess.run([sys.executable, "-c", code], env=environment(site),
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
